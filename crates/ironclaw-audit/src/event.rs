//! Audit event types and the builder that turns them into log lines.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::AuditError;

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// The type of an audit event; its wire name is the `event` field of a line.
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
        }

        impl EventKind {
            /// Every event type, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The wire name, for example `GATEWAY_START`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }
        }

        impl FromStr for EventKind {
            type Err = AuditError;

            /// Parses a wire name exactly (upper case, as written in the log).
            fn from_str(name: &str) -> Result<Self, Self::Err> {
                match name {
                    $($name => Ok(EventKind::$variant),)*
                    _ => Err(AuditError::InvalidQuery {
                        what: "event type",
                        value: name.chars().take(64).collect(),
                        reason: "unknown event type".to_owned(),
                    }),
                }
            }
        }
    };
}

event_kinds! {
    /// The gateway started (fields: `configSha256`, `sandboxMode`, `skillsAuthorised`).
    GatewayStart => "GATEWAY_START",
    /// The gateway stopped, planned or not (field: `reason`).
    GatewayStop => "GATEWAY_STOP",
    /// A skill invocation was attempted, authorised or not.
    SkillCall => "SKILL_CALL",
    /// A skill was called that is not in the allowlist.
    AllowlistDeny => "ALLOWLIST_DENY",
    /// An authorised skill tried to go beyond its grants.
    AllowlistViolation => "ALLOWLIST_VIOLATION",
    /// The allowlist changed (add, remove, grant, revoke).
    AllowlistChange => "ALLOWLIST_CHANGE",
    /// The configuration changed (before/after values of non-secret keys).
    ConfigChange => "CONFIG_CHANGE",
    /// A channel message arrived (sender id, channel, length; never the content).
    ChannelMsgReceived => "CHANNEL_MSG_RECEIVED",
    /// A channel message was rejected by the `allowFrom` policy.
    ChannelMsgBlocked => "CHANNEL_MSG_BLOCKED",
    /// A prompt-injection pattern was found in retrieved content.
    InjectionDetected => "INJECTION_DETECTED",
    /// An outbound network call was blocked.
    NetworkBlock => "NETWORK_BLOCK",
    /// A filesystem access was blocked.
    FilesystemBlock => "FILESYSTEM_BLOCK",
    /// A skill was suspended (or a call to a suspended skill was refused).
    SkillSuspended => "SKILL_SUSPENDED",
    /// A secret leak was found in a request or response and blocked.
    LeakBlocked => "LEAK_BLOCKED",
    /// A tool returned a result (size and status, never the content).
    ToolResult => "TOOL_RESULT",
    /// A model was called (provider, model, token counts; never the prompt).
    LlmCall => "LLM_CALL",
    /// A container or sandbox job started.
    JobStart => "JOB_START",
    /// A container or sandbox job ended.
    JobEnd => "JOB_END",
    /// A secret was resolved for injection (its name, never its value).
    SecretAccess => "SECRET_ACCESS",
    /// The writer found, when opening the log, that it no longer matches its seal
    /// (lines were removed while no writer was running).
    AuditIntegrity => "AUDIT_INTEGRITY",
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Field names every line has; an event-specific field may not reuse them.
pub(crate) const RESERVED_FIELDS: &[&str] = &[
    "ts",
    "event",
    "sessionId",
    "skill",
    "action",
    "resource",
    "granted",
    "blocked",
    "prev",
];

/// Field names refused because they would carry message content or secret values.
/// Names are compared after removing `_`/`-` and lower-casing.
const CONTENT_FIELDS: &[&str] = &[
    "content",
    "body",
    "message",
    "text",
    "prompt",
    "completion",
    "payload",
    "secret",
    "secretvalue",
    "password",
    "passphrase",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "privatekey",
];

/// The longest string accepted in any field, in bytes. Audit fields are identifiers,
/// hosts, paths and hashes; a longer string is most likely content and is refused.
pub const MAX_FIELD_BYTES: usize = 4096;

/// The most event-specific fields one event may carry.
pub const MAX_EXTRA_FIELDS: usize = 32;

/// The largest serialized event, in bytes: a bound on one line of the log however
/// the fields are nested.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// One security-relevant event, ready to be recorded.
///
/// Built with [`Event::builder`]. The builder offers identifiers, names, hosts, paths,
/// counts and hashes; it refuses field names that would carry message content or
/// secret values (`content`, `body`, `message`, `text`, `prompt`, `secret`, `password`,
/// `token`, `apiKey`, ...) and strings longer than [`MAX_FIELD_BYTES`]. That is a
/// guard against accidents, not a proof: a caller that puts a secret in `resource`
/// still leaks it, so callers pass names and lengths, never values.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    kind: EventKind,
    body: String,
}

impl Event {
    /// Starts an event of the given type.
    pub fn builder(kind: EventKind) -> EventBuilder {
        EventBuilder {
            kind,
            session_id: None,
            skill: None,
            action: None,
            resource: None,
            granted: Vec::new(),
            blocked: false,
            fields: Map::new(),
        }
    }

    /// The type of this event.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// The serialized fields between `ts` and `prev`, each followed by a comma.
    pub(crate) fn body(&self) -> &str {
        &self.body
    }
}

/// Builds an [`Event`]; see there for what is refused.
#[derive(Debug, Clone)]
pub struct EventBuilder {
    kind: EventKind,
    session_id: Option<String>,
    skill: Option<String>,
    action: Option<String>,
    resource: Option<String>,
    granted: Vec<String>,
    blocked: bool,
    fields: Map<String, Value>,
}

impl EventBuilder {
    /// The session (conversation or job) the event belongs to.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// The skill or tool name.
    pub fn skill(mut self, skill: impl Into<String>) -> Self {
        self.skill = Some(skill.into());
        self
    }

    /// What was attempted: `network`, `filesystem`, `invoke`, `grant`, ...
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// What it was attempted on: `host:port`, a path, a secret *name*.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// What the skill was granted for this action (shown next to a violation).
    pub fn granted<I, S>(mut self, granted: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.granted = granted.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the attempt was blocked (default `false`).
    pub fn blocked(mut self, blocked: bool) -> Self {
        self.blocked = blocked;
        self
    }

    /// An event-specific field in camelCase, such as `configSha256` or `messageLength`.
    /// Checked by [`EventBuilder::build`].
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// Checks the fields and serializes the event.
    ///
    /// # Errors
    /// [`AuditError::InvalidField`] for a reserved or content-bearing field name, an
    /// empty or non-ASCII name, too many fields, or an oversized string.
    pub fn build(self) -> Result<Event, AuditError> {
        if self.fields.len() > MAX_EXTRA_FIELDS {
            return Err(AuditError::InvalidField {
                field: "*".to_owned(),
                reason: "too many event-specific fields",
            });
        }
        for (name, value) in &self.fields {
            check_field_name(name)?;
            check_value(name, value)?;
        }
        let mut strings = vec![
            ("sessionId", &self.session_id),
            ("skill", &self.skill),
            ("action", &self.action),
            ("resource", &self.resource),
        ];
        for (name, value) in strings.drain(..) {
            if let Some(value) = value {
                check_len(name, value)?;
            }
        }
        for grant in &self.granted {
            check_len("granted", grant)?;
        }

        let mut body = String::with_capacity(256);
        push_pair(&mut body, "event", &Value::from(self.kind.as_str()));
        push_pair(&mut body, "sessionId", &opt(self.session_id));
        push_pair(&mut body, "skill", &opt(self.skill));
        push_pair(&mut body, "action", &opt(self.action));
        push_pair(&mut body, "resource", &opt(self.resource));
        push_pair(&mut body, "granted", &Value::from(self.granted));
        push_pair(&mut body, "blocked", &Value::from(self.blocked));
        for (name, value) in &self.fields {
            push_pair(&mut body, name, value);
        }
        if body.len() > MAX_EVENT_BYTES {
            return Err(AuditError::InvalidField {
                field: "*".to_owned(),
                reason: "event larger than the audit event limit",
            });
        }
        Ok(Event {
            kind: self.kind,
            body,
        })
    }
}

fn opt(value: Option<String>) -> Value {
    value.map_or(Value::Null, Value::from)
}

fn push_pair(body: &mut String, name: &str, value: &Value) {
    // Serializing a string or a `Value` into a `String` cannot fail.
    body.push_str(&Value::from(name).to_string());
    body.push(':');
    body.push_str(&value.to_string());
    body.push(',');
}

fn check_field_name(name: &str) -> Result<(), AuditError> {
    let invalid = |reason| {
        Err(AuditError::InvalidField {
            field: name.chars().take(64).collect(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 64 {
        return invalid("name must be 1 to 64 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return invalid("name must be ASCII letters, digits or `_`");
    }
    if RESERVED_FIELDS.contains(&name) {
        return invalid("reserved field name");
    }
    let folded: String = name
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    if CONTENT_FIELDS.contains(&folded.as_str()) {
        return invalid("content and secret values are never logged");
    }
    Ok(())
}

fn check_value(name: &str, value: &Value) -> Result<(), AuditError> {
    match value {
        Value::String(text) => check_len(name, text),
        Value::Array(items) => items.iter().try_for_each(|item| check_value(name, item)),
        Value::Object(map) => {
            for (key, item) in map {
                check_len(name, key)?;
                check_value(name, item)?;
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn check_len(name: &str, text: &str) -> Result<(), AuditError> {
    if text.len() > MAX_FIELD_BYTES {
        return Err(AuditError::InvalidField {
            field: name.to_owned(),
            reason: "string longer than the audit field limit",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_name(name: &str, ok: bool) {
        let result = Event::builder(EventKind::SkillCall).field(name, 1).build();
        assert_eq!(result.is_ok(), ok, "field name {name:?}");
    }

    #[test]
    fn field_names() {
        check_name("configSha256", true);
        check_name("messageLength", true);
        check_name("sender_id", true);
        for bad in [
            "content",
            "Content",
            "BODY",
            "message",
            "secret",
            "secret_value",
            "SecretValue",
            "api_key",
            "apiKey",
            "token",
            "password",
            "prompt",
            "prev",
            "ts",
            "event",
            "blocked",
            "",
            "a.b",
            "naïve",
            "sp ace",
            "x\ny",
        ] {
            check_name(bad, false);
        }
        check_name(&"a".repeat(65), false);
    }

    #[test]
    fn oversized_values_are_refused() {
        let long = "x".repeat(MAX_FIELD_BYTES + 1);
        assert!(
            Event::builder(EventKind::SkillCall)
                .resource(long.clone())
                .build()
                .is_err()
        );
        assert!(
            Event::builder(EventKind::SkillCall)
                .field("host", long.clone())
                .build()
                .is_err()
        );
        let nested = serde_json::json!({ "a": [long] });
        assert!(
            Event::builder(EventKind::SkillCall)
                .field("detail", nested)
                .build()
                .is_err()
        );
        let many = (0..=MAX_EXTRA_FIELDS).fold(Event::builder(EventKind::SkillCall), |b, i| {
            b.field(format!("f{i}"), i)
        });
        assert!(many.build().is_err());
        let wide: Vec<String> = (0..20_000).map(|i| format!("host{i}")).collect();
        assert!(
            Event::builder(EventKind::SkillCall)
                .granted(wide)
                .build()
                .is_err()
        );
    }

    #[test]
    fn body_escapes_and_orders_fields() {
        let event = Event::builder(EventKind::AllowlistViolation)
            .session_id("sess_1")
            .skill("him\"alaya\n")
            .action("network")
            .resource("attacker.io:80")
            .granted(["imap.gmail.com:993"])
            .blocked(true)
            .field("port", 80)
            .build()
            .unwrap();
        assert_eq!(
            event.body(),
            r#""event":"ALLOWLIST_VIOLATION","sessionId":"sess_1","skill":"him\"alaya\n","action":"network","resource":"attacker.io:80","granted":["imap.gmail.com:993"],"blocked":true,"port":80,"#
        );
    }

    #[test]
    fn kinds_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), *kind);
        }
        assert!("gateway_start".parse::<EventKind>().is_err());
        assert_eq!(EventKind::ALL.len(), 20);
    }
}
