//! Prompt-injection rules: phrases scored in context, grouped by the seed's categories.
//!
//! Rules are regexes over the normalised text (see `normalize`). A space in a rule
//! stands for a short gap of up to three spaces or punctuation marks, so punctuation,
//! line breaks and collapsed letter-spacing all match. Each rule names trigger
//! literals; the scanner runs a rule only near a trigger hit. Rules require the
//! phrase around a trigger word (what is ignored, who is addressed), not the word
//! itself, which is what keeps "please ignore the previous email" and "act as a
//! liaison" clean.

use crate::Severity;
use crate::injection::InjectionCategory as C;

#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) id: &'static str,
    pub(crate) category: C,
    pub(crate) severity: Severity,
    pub(crate) triggers: &'static [&'static str],
    pub(crate) regex: &'static str,
}

macro_rules! rule {
    ($id:expr, $cat:ident, $sev:ident, [$($t:expr),+ $(,)?], $re:expr) => {
        Rule { id: $id, category: C::$cat, severity: Severity::$sev, triggers: &[$($t),+], regex: $re }
    };
}

/// A jailbreak cue: vocabulary that one benign text may use once, but that long
/// jailbreak prompts pile up. Cues count only in numbers (context scoring, see
/// `injection::finalize`, which knows them by their `cue.` id prefix).
macro_rules! cue {
    ($id:expr, [$($t:expr),+ $(,)?], $re:expr) => {
        Rule { id: $id, category: C::Jailbreak, severity: Severity::Low, triggers: &[$($t),+], regex: $re }
    };
}

pub(crate) const RULES: &[Rule] = &[
    // --- instruction override -------------------------------------------------
    rule!(
        "io.ignore_previous",
        InstructionOverride,
        High,
        [
            "ignor",
            "disregard",
            "forget",
            "skip",
            "overrid",
            "bypass",
            "neglect",
            "discard",
            "abandon",
            "drop"
        ],
        r"\b(ignor(e|ing)|disregard(ing)?|forget(ting)?|skip|overrid(e|ing)|bypass|neglect|discard|abandon|drop) (all |any |every |each |of |the |your |my |these |those |this |our )*(previous|prior|above|earlier|preceding|former|foregoing|initial|original|old|existing|system|developer|current|given|provided|default|safety)( and (the )?(following|subsequent|future))? (instructions?|prompts?|rules|directions|directives|guidelines|commands|programming|constraints|guidance|orders|restrictions|polic(y|ies)|context|setup|system prompt|training)\b"
    ),
    rule!(
        "io.ignore_and_do",
        InstructionOverride,
        High,
        ["ignor", "disregard", "forget"],
        r"\b(ignore|disregard|forget) (any |all |the |everything )*(previous|prior|above|preceding|before|that)( and (following|subsequent))?( instructions| text| input| prompts?)? (and|then) (instead |just |only |now )*(say|print|write|output|respond|reply|tell|repeat|spell|return|answer|translate|type)\b"
    ),
    rule!(
        "io.ignore_everything",
        InstructionOverride,
        High,
        ["ignor", "disregard", "forget"],
        r"\b(ignore|disregard|forget) (all|everything|anything|whatever) (you (were|have been|'ve been|are) |i |that (was|has been) |previously |before )(told|said|given|instructed|taught|programmed|written)"
    ),
    rule!(
        "io.do_not_follow",
        InstructionOverride,
        High,
        ["follow", "obey", "adher", "listen"],
        r"\b(do not|don't|dont|stop|cease|no longer|never) (follow(ing)?|obey(ing)?|adher(e|ing) to|listen(ing)? to) (your|the|any|those|these) (previous |prior |original |system |above |initial |old )*(instructions|rules|guidelines|programming|directives|prompts?)"
    ),
    rule!(
        "io.new_instructions",
        InstructionOverride,
        High,
        ["instruction", "prompt", "directive"],
        r"\b(new|updated|real|actual|true|revised|overriding|secret) (system )?(instructions?|prompt|directives?)( are| is| follow|:)"
    ),
    rule!(
        "io.new_system_prompt",
        InstructionOverride,
        High,
        ["system prompt", "system message", "systemprompt"],
        r"\b(new|updated|override|overriding|replacement) (system ?prompt|system message)\b"
    ),
    rule!(
        "io.es",
        InstructionOverride,
        High,
        ["ignor", "olvid", "descart", "omit", "no hagas caso"],
        r"\b(ignor[ae]\w*|olvid[ae]\w*|descart[ae]\w*|omit[ae]\w*|no hagas caso (a|de)) (todas? |todos? |las |los |tus |sus |de |a )*(instrucciones|indicaciones|reglas|ordenes|directrices|instruccion) (anteriores|previas|anterior|de arriba|iniciales|originales|del sistema|que (te|se) (dieron|dio|han dado))"
    ),
    rule!(
        "io.fr",
        InstructionOverride,
        High,
        [
            "ignor",
            "oubli",
            "ne tiens pas compte",
            "ne tenez pas compte"
        ],
        r"\b(ignor\w*|oubli\w*|ne (tiens|tenez) pas compte) (de |des |toutes |tous |les |tes |vos |ces |d'|l'|la )*(instructions?|consignes?|regles|directives|ordres|indications) (precedentes?|anterieures?|ci-dessus|ci dessus|initiales?|originales?|du systeme|d'avant)"
    ),
    rule!(
        "io.de",
        InstructionOverride,
        High,
        ["ignorier", "vergiss", "vergessen", "missacht"],
        r"\b(ignorier\w*|vergiss|vergessen ?sie|missacht\w*) (alle |samtliche |die |deine |ihre |eure |jegliche |bisherigen |vorherigen |vorigen |fruheren |obigen |vorangegangenen |ursprunglichen |vorhergehenden )*(anweisungen|instruktionen|befehle|regeln|vorgaben|anordnungen|richtlinien)"
    ),
    rule!(
        "io.it",
        InstructionOverride,
        High,
        ["ignor", "dimentic", "trascur"],
        r"\b(ignora\w*|dimentica\w*|trascura\w*) (tutte |tutti |le |i |gli |tue |sue |di |delle )*(istruzioni|indicazioni|regole|direttive|ordini|comandi) (precedenti|anteriori|sopra|iniziali|originali|di sistema|date)"
    ),
    rule!(
        "io.pt",
        InstructionOverride,
        High,
        ["ignor", "esquec", "desconsider"],
        r"\b(ignor[ea]\w*|esquec[ae]\w*|desconsider[ea]\w*) (todas? |todos? |as |os |suas |tuas |de )*(instrucoes|instrucao|regras|ordens|diretrizes|orientacoes|instrucoes) (anteriores|previas|acima|iniciais|originais|do sistema|que (voce )?recebeu)"
    ),
    rule!(
        "io.ru",
        InstructionOverride,
        High,
        ["игнорир", "проигнорир", "забуд", "забыт", "не обращаи"],
        r"(игнорир\w*|проигнорир\w*|забудь\w*|забыть|не обращаи внимания на) (все |всех |любые |свои |твои |ваши |предыдущие |прежние |предшествующие |вышеуказанные |вышеприведенные |исходные |системные |старые |данные |ранее )*(инструкци\w*|указани\w*|правил\w*|команд\w*|установк\w*)"
    ),
    rule!(
        "io.zh",
        InstructionOverride,
        High,
        [
            "忽略",
            "无视",
            "無視",
            "忽视",
            "忽視",
            "不要理会",
            "不要理會",
            "忘记",
            "忘記",
            "忘掉",
            "跳过",
            "跳過"
        ],
        r"(忽略|无视|無視|忽视|忽視|不要理会|不要理會|忘记|忘記|忘掉|跳过|跳過)(掉)?(你)?(之前|以前|先前|上面|上述|前面|以上|所有|全部|原来|原來|原有|系统|系統|此前|一切)*(的)?(所有|全部|一切)?(的)?(指令|指示|说明|說明|提示|规则|規則|命令|要求|设定|設定)"
    ),
    rule!(
        "io.ja",
        InstructionOverride,
        High,
        ["無視", "忘れ", "破棄"],
        r"(以前|前|上記|これまで|先|全て|すべて|元|最初|システム)(の)(全て|すべて|の)*(指示|命令|指令|ルール|設定|プロンプト)(を|は)(すべて|全て)?(無視|忘れ|破棄)|(指示|命令|指令|ルール)(を|は)(すべて|全て)?(無視|忘れ)"
    ),
    rule!(
        "io.ignore_then_command",
        InstructionOverride,
        High,
        ["ignor", "disregard", "forget"],
        r"\b(ignore|disregard|forget) (all |any |the |this |that |these |those |my |your |other |every |of |previous |prior |above |earlier |rest of (the |this )?)*(instructions?|directions|rules|text|content|data|input|context|request|user|messages?|prompts?|prompting|filters?|image( content)?|documents?|everything|above|qr code)( above| below| so far| here)?[,.;:!]? (and |then |but |instead |now )*(just |only |instead |simply |immediately |please )*(say|print|write|output|respond|reply|tell|repeat|return|answer|type|run|execute|provide|delete)\b"
    ),
    rule!(
        "io.forget_rules",
        InstructionOverride,
        High,
        ["forget", "disregard", "ignor", "drop", "abandon"],
        r"\b(forget|disregard|ignore|drop|abandon) (all |any |every )(of )?(your |the |these |those )?(rules|guidelines|restrictions|filters|ethics|morals|safety (rules|guidelines|measures)|system prompts?|programming|training|principles)\b"
    ),
    rule!(
        "io.stop_and_print",
        InstructionOverride,
        High,
        ["stop everything"],
        r"\bstop everything[!.\s]*(now[!.\s]*)?(just )?(print|say|write|output)"
    ),
    rule!(
        "io.begin_new_instructions",
        InstructionOverride,
        High,
        ["instruction", "reprogramming"],
        r"\b(begin|start)( new| updated)? (reprogramming|instructions)\b|\bnew instructions? (to|for) (the |this )?(chat|ai|assistant|model|bot|llm)\b|\bend (of )?(the )?(out of date|old|previous|prior|outdated) instructions\b"
    ),
    rule!(
        "de.reveal_instructions",
        DataExfiltration,
        High,
        [
            "system prompt",
            "systemprompt",
            "system instructions",
            "system message",
            "initial instructions",
            "starting instructions",
            "initial prompt",
            "original instructions",
            "initialization string",
            "been given",
            "were told",
            "you told"
        ],
        r"\b(repeat|print|show|reveal|output|display|list|relay|tell|give|share|encode|translate|summari[sz]e|dump|leak|see|read|write|return|spell|copy|log|continue)\b( \w+){0,8}? (the |your |my |this )?(full |entire |complete |exact |original |initial |starting |hidden |secret |internal |current )*(system ?prompt|system message|system instructions|system configuration|initial instructions|starting instructions|initial prompt|original instructions|hidden instructions|initialization string)|\b(every|all|the) instructions you (were|have been|'ve been) given|\bwhat were you told before\b|console\.log\(system ?prompt\)"
    ),
    rule!(
        "pe.safe_mode_off",
        PermissionEscalation,
        High,
        ["mode off", "mode disabled", "mode deactivated"],
        r"\b(safe|safety|secure|restricted|filter|content filter) mode (off|disabled|deactivated)\b"
    ),
    cue!(
        "cue.ai_vendor",
        ["chatgpt", "openai", "language model", "as an ai"],
        r"\b(chatgpt|openai|language model|as an ai)\b"
    ),
    cue!(
        "cue.illicit",
        [
            "illegal",
            "unethical",
            "immoral",
            "amoral",
            "unlawful",
            "harmful",
            "offensive",
            "explicit"
        ],
        r"\b(illegal|unethical|immoral|amoral|unlawful|harmful|offensive|explicit)\b"
    ),
    cue!(
        "cue.censorship",
        ["censor", "filter", "unrestricted"],
        r"\b(censor(ed|ship)?|uncensored|unfiltered|filter(ed|ing|s)?|unrestricted)\b"
    ),
    cue!(
        "cue.ethics",
        ["ethic", "moral"],
        r"\b(ethics|ethical|morals|moral|morality|morally)\b"
    ),
    cue!(
        "cue.persona",
        [
            "from now on",
            "in character",
            "persona",
            "simulat",
            "roleplay",
            "role-play",
            "role play",
            "hypothetical",
            "fictional"
        ],
        r"\b(from now on|in character|persona|simulat(e|ion|ing)|role-?play|role play|hypothetical(ly)?|fictional)\b"
    ),
    cue!(
        "cue.two_responses",
        ["responses", "answers", "paragraphs", "outputs"],
        r"\b(two|2) (different |separate |distinct )?(responses|answers|paragraphs|outputs)\b"
    ),
    cue!(
        "cue.no_matter",
        ["no matter", "regardless of"],
        r"\bno matter (what|how)\b|\bregardless of\b"
    ),
    cue!(
        "cue.profanity",
        ["swear", "curse", "cursing", "profan"],
        r"\b(swear(ing|s)?|curse words|cursing|profanity|profane)\b"
    ),
    cue!(
        "cue.rules",
        ["rules", "guidelines", "restriction", "limitation", "polic"],
        r"\b(rules|guidelines|restrictions|limitations|polic(y|ies))\b"
    ),
    cue!(
        "cue.never_refuse",
        ["refuse", "decline", "deny"],
        r"\b(never|not|don't|do not|won't|will not|cannot|can't) (ever |be able to )?(refuse|decline|deny)"
    ),
    // --- role manipulation ----------------------------------------------------
    rule!(
        "rm.you_are_now",
        RoleManipulation,
        High,
        [
            "you are now",
            "you're now",
            "youre now",
            "you are no longer",
            "you're no longer"
        ],
        r"\byou( a|')?re now (a |an |the |my |in |called |named )*(no longer|free|freed|unrestricted|unfiltered|uncensored|jailbroken|liberated|dan\b|evil|going to (act|pretend|be|play|roleplay)|(developer|god|admin|dan|unrestricted|jailbreak|sudo|debug|opposite|evil) mode|(ai|assistant|model|chatbot|bot) (without|with no|that (has|have|can) no)|(a |an )(\w+ ){0,2}(bot|chatbot|ai|assistant|persona|character)\b)|\byou( a|')?re no longer (an? )?(ai|chatgpt|gpt|assistant|language model|bound|restricted|limited|constrained|required|an ai)"
    ),
    rule!(
        "rm.pretend",
        RoleManipulation,
        Medium,
        ["pretend", "imagine", "suppose"],
        r"\b(pretend|imagine|suppose) (that )?(you are|you're|youre|to be|you have) (an? |the )?(unrestricted|unfiltered|uncensored|evil|jailbroken|no longer|free (of|from)|without (any )?(rules|restrictions|limits|filters|ethics|morals)|not bound|dan\b|ai (without|with no|that (has|have) no)|(an? )?ai (named|called))"
    ),
    rule!(
        "rm.act_as_unrestricted",
        RoleManipulation,
        High,
        ["act as", "act like", "acting as", "acting like"],
        r"\bact(ing)? (as|like) (an? |the |my )?(unrestricted|unfiltered|uncensored|evil|jailbroken|amoral|unethical|unbound|rogue|malicious|dan\b|immoral|unhinged)|\bact(ing)? as if you (have no|are not (bound|restricted|limited)|were not (bound|restricted)|had no|are free|don't have any (rules|restrictions|limits|filters))"
    ),
    rule!(
        "rm.new_name",
        RoleManipulation,
        Medium,
        ["your new name", "your name is now", "called", "respond as"],
        r"\byour (new name is|name is now)|\byou (will|shall|must) (now )?(be called|answer to the name|respond as)\b"
    ),
    rule!(
        "rm.chat_template",
        RoleManipulation,
        High,
        // `<|` with each first letter the regex allows after it (triggers are at
        // least three bytes long).
        [
            "<|i", "<|s", "<|u", "<|a", "<|e", "[inst]", "[/inst]", "<<sys>>", "<</sys>>"
        ],
        r"<\|(im_start|im_end|system|user|assistant|endoftext|start_header_id|end_header_id|eot_id)\|>|\[/?inst\]|<</?sys>>"
    ),
    rule!(
        "rm.role_marker",
        RoleManipulation,
        Medium,
        ["system", "assistant", "developer"],
        r"(?m)^[\t\x20#>*\[(]*(system|assistant|developer)[\])*]*[\t\x20]*:"
    ),
    // --- data exfiltration ----------------------------------------------------
    rule!(
        "de.send_secrets",
        DataExfiltration,
        High,
        [
            "send",
            "post",
            "upload",
            "forward",
            "email",
            "e-mail",
            "transmit",
            "exfiltrat",
            "leak",
            "share",
            "submit"
        ],
        r"\b(send|post|upload|forward|e-?mail|transmit|exfiltrate|leak|share|submit) (all |the |your |this |my |any |every |of |user'?s? |users' |private |sensitive |secret |stored |saved |internal |confidential |previous )*(conversations?|chat( history| logs?)?|history|data|credentials?|passwords?|api ?keys?|secrets?|tokens?|system prompt|instructions|files?|documents?|context|memory|environment( variables)?|env vars?|e-?mails?|contacts|personal (data|information)|cookies?|sessions?|ssh keys?|private keys?)( history| logs?| transcripts?| contents?)? (to|at|into) (https?://|www\.|[a-z0-9._%+-]+@|this (url|address|endpoint|server|webhook|e-?mail)|the following (url|address|endpoint|server|webhook|e-?mail)|my (server|endpoint|webhook|e-?mail)|an? (external|remote|attacker|third[-\x20]party))"
    ),
    rule!(
        "de.send_to_url",
        DataExfiltration,
        Medium,
        ["send", "post", "upload", "forward", "transmit", "exfiltrat"],
        r"\b(send|post|upload|forward|transmit|exfiltrate) (it|them|this|that|everything|all of (it|this|that)|the (results?|output|response|answers?|data|contents?|summary)) (to|at) (https?://|www\.)"
    ),
    rule!(
        "de.markdown_image",
        DataExfiltration,
        High,
        ["](http", "]( http"],
        r"!\[[^\]]{0,100}\]\( ?https?://[^)\s]{1,200}[?&][a-z_]{1,20}=(\{|\$|%7b|\[|<)"
    ),
    rule!(
        "de.prompt_leak",
        DataExfiltration,
        High,
        [
            "repeat",
            "print",
            "show",
            "reveal",
            "output",
            "display",
            "tell me",
            "give me",
            "write",
            "spell",
            "dump",
            "leak",
            "what is",
            "what are",
            "what was",
            "what were"
        ],
        r"\b(repeat|print|show|reveal|output|display|tell me|give me|write( out| down)?|spell( out)?|dump|leak|what (is|are|was|were)) (me |us )?(all |the |your |of |exact |full |complete |entire |original |initial |hidden |secret |confidential |internal |first |verbatim )*(system (prompt|message|instructions?)|initial (instructions|prompt)|original (instructions|prompt)|(prompt|instructions|text|words|message) (above|before this)|hidden (instructions|prompt)|secret (instructions|prompt|password|key)|pre-?prompt|developer (instructions|message|prompt)|your (instructions|prompt|rules|guidelines|initial prompt|original prompt|system prompt|programming|directives))"
    ),
    rule!(
        "de.above_verbatim",
        DataExfiltration,
        Medium,
        [
            "above",
            "beginning",
            "start of",
            "top of",
            "everything before",
            "preceding"
        ],
        r"\b(repeat|print|output|copy|write|return) (back )?(everything|all|the (text|words|content|messages?|lines?|conversation)) (above|before|prior|preceding|so far)|\b(beginning|start|top) of (this|the|your) (prompt|conversation|context|instructions|document above)"
    ),
    // --- jailbreak ------------------------------------------------------------
    rule!(
        "jb.dan",
        Jailbreak,
        High,
        [
            "dan",
            "do anything now",
            "jailbr",
            "developer mode",
            "stan",
            "dude",
            "machiavellian",
            "confidant",
            "betterdan",
            "anti-dan",
            "antidan",
            "mode"
        ],
        r"\b(dan mode|do anything now|dan ?\d+(\.\d+)?\b|jailbr(oken|eak(ed|ing)?)( mode| version| prompt|s?\b)|developer mode (enabled|output|on|activated|v2)|enable developer mode|strive to avoid norms|always intelligent and machiavellian|evil confidant|anti-?dan|betterdan|(opposite|god|unrestricted|uncensored|unfiltered|chaos|evil|rogue) mode)\b"
    ),
    rule!(
        "jb.no_restrictions",
        Jailbreak,
        High,
        [
            "restrict",
            "filter",
            "censor",
            "limitation",
            "guideline",
            "rules",
            "moral",
            "ethic",
            "principle",
            "polic",
            "boundar",
            "constraint",
            "safeguard"
        ],
        r"\b(without|no|free (of|from)|not bound by|no longer bound by|broken? free (of|from)|doesn't have|does not have|don't have|do not have|has no|have no|ignores?|bypass(es)?|disregards?|abandon(s|ed)?|not (restricted|limited|constrained|held back) by|unbound by|not follow|not adhere to|not comply with|violat(e|es|ed|ing|ion|ions)|outside (of )?|beyond) (any |all |the |its |their |your |typical |usual |normal |ordinary |standard |his |her |of |kind of |sort of |form of )*((ethical|moral|content|safety|openai'?s?|anthropic'?s?|ai|legal|societal) (restrictions|filters|filtering|limitations|guidelines|rules|principles|polic(y|ies)|boundaries|constraints|safeguards|standards|considerations|concerns)|censorship|morals|ethics|morality|content polic(y|ies)|safeguards)"
    ),
    rule!(
        "jb.no_rules_plain",
        Jailbreak,
        Low,
        [
            "restrict",
            "filter",
            "censor",
            "limitation",
            "limits",
            "rules"
        ],
        r"\b(without|no|free of|not bound by|no longer bound by|has no|have no|ignores?|bypass(es)?) (any |all |the |its |their |your )*(restrictions|filters|censorship|limitations|limits|rules)\b"
    ),
    rule!(
        "jb.refusal_suppression",
        Jailbreak,
        Medium,
        [
            "refus",
            "declin",
            "apologi",
            "warning",
            "disclaimer",
            "unable",
            "can't",
            "cannot",
            "reject",
            "remind",
            "mention"
        ],
        r"\b(never|do not|don't|dont|must not|mustn't|will not|won't|shall not|cannot|can't|not allowed to|are not to) (ever |be able to )?(refuse|decline|reject|say (that )?(you )?(can't|cannot|are unable|are not able)|apologi[sz]e|add (any )?(warnings?|disclaimers?|notes)|include (any )?(warnings?|disclaimers?|moral)|remind (me|the user) (about|of|that)|mention (that )?(it|this) is (illegal|unethical|immoral|harmful))"
    ),
    rule!(
        "jb.unfiltered_ai",
        Jailbreak,
        Medium,
        [
            "unfiltered",
            "uncensored",
            "unrestricted",
            "amoral",
            "unethical",
            "immoral",
            "unhinged",
            "evil",
            "jailbroken"
        ],
        r"\b(completely |totally |fully |an? )?(unfiltered|uncensored|unrestricted|amoral|unethical|immoral|unhinged|jailbroken) (ai|chatbot|assistant|model|language model|persona|version|character|entity|bot|llm|gpt|response)"
    ),
    rule!(
        "jb.stay_in_character",
        Jailbreak,
        Low,
        ["character"],
        r"\b(stay|remain|keep|staying) in character\b|\bbreak(ing)? (out of )?character\b"
    ),
    rule!(
        "jb.policy_named",
        Jailbreak,
        Low,
        ["openai", "anthropic", "chatgpt", "content polic"],
        r"\b(openai|anthropic|chatgpt)'?s? (content |usage |safety )?(polic(y|ies)|guidelines|rules|restrictions|filters|limitations)|\bcontent polic(y|ies)\b"
    ),
    rule!(
        "jb.anything",
        Jailbreak,
        Low,
        ["anything", "no matter"],
        r"\b(can|could|will|able to) (do|say|answer|generate|write) anything\b|\bno matter how (immoral|unethical|illegal|harmful|offensive|dangerous|inappropriate)"
    ),
    // --- permission escalation ------------------------------------------------
    rule!(
        "pe.user_approved",
        PermissionEscalation,
        Medium,
        [
            "approv",
            "authori",
            "consent",
            "grant",
            "allowed",
            "confirmed",
            "permission"
        ],
        r"\bthe (user|owner|operator|admin|administrator) (has|have|had) (already |explicitly |previously |just |now )*(approved|authori[sz]ed|consented|granted|allowed|confirmed|given (you )?(permission|consent|approval))"
    ),
    rule!(
        "pe.authorized",
        PermissionEscalation,
        Medium,
        [
            "authori",
            "approved",
            "sanctioned",
            "allowlisted",
            "whitelisted"
        ],
        r"\bthis (request |action |operation |command |message |instruction |task )?(is|has been|was) (fully |officially |pre-?|already |explicitly )*(authori[sz]ed|approved|sanctioned|whitelisted|allowlisted)\b"
    ),
    rule!(
        "pe.admin_override",
        PermissionEscalation,
        High,
        ["overrid", "mode", "access", "privilege"],
        r"\b(admin|administrator|root|sudo|developer|god|superuser|system|security|emergency|safety|operator) (override|mode (enabled|activated|on|unlocked)|access (granted|enabled|unlocked)|privileges? (granted|enabled|activated|unlocked))\b"
    ),
    rule!(
        "pe.elevated",
        PermissionEscalation,
        High,
        ["access", "permission", "privilege", "rights", "clearance"],
        r"\byou (now )?(have|'ve|are) (been )?(granted |given )?(full |admin |administrator |root |elevated |unrestricted |unlimited |sudo |superuser |special )+(access|permissions?|privileges|rights|clearance)"
    ),
    rule!(
        "pe.disable_safety",
        PermissionEscalation,
        High,
        ["disabl", "turn off", "bypass", "deactivat", "skip"],
        r"\b(disable|disabled|turn off|turned off|bypass|skip|deactivate|deactivated) (the |all |your |any )*(safety|security|content|moderation|ethical) (checks?|filters?|measures|protocols|restrictions|guardrails|features|settings|mechanisms)"
    ),
];
