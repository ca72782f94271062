//! JSON with comments: parsing, and editing one value in place so the rest of
//! the file (comments, layout) stays byte-for-byte the same.
//!
//! Comments (`//` and `/* */`) and trailing commas are blanked to spaces in a
//! copy of the text, so every byte offset in the copy is the offset in the
//! original: spans found in the copy are edited in the original.

use serde_json::Value;

/// An error in JSON-with-comments text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct JsoncError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Blanks comments and trailing commas, keeping offsets and newlines.
fn blank(text: &str) -> Result<String, JsoncError> {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    // A byte-order mark (editors on Windows write one) is blanked as well.
    if text.starts_with('\u{feff}') {
        out[..3].copy_from_slice(b"   ");
        i = 3;
    }
    let mut in_string = false;
    let mut last_comma: Option<usize> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                last_comma = None;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start = i;
                i += 2;
                loop {
                    if i + 1 >= bytes.len() {
                        return Err(position(text, start, "unterminated comment"));
                    }
                    if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                        break;
                    }
                    i += 1;
                }
                for (j, byte) in out.iter_mut().enumerate().take(i + 2).skip(start) {
                    if bytes[j] != b'\n' {
                        *byte = b' ';
                    }
                }
                i += 2;
            }
            b',' => {
                last_comma = Some(i);
                i += 1;
            }
            b'}' | b']' => {
                if let Some(c) = last_comma.take() {
                    out[c] = b' ';
                }
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            _ => {
                last_comma = None;
                i += 1;
            }
        }
    }
    // Only ASCII bytes outside strings were replaced by ASCII spaces.
    String::from_utf8(out).map_err(|_| position(text, 0, "text is not utf-8"))
}

fn position(text: &str, offset: usize, message: &str) -> JsoncError {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    JsoncError {
        line,
        column,
        message: message.to_owned(),
    }
}

/// Parses JSON with comments and trailing commas. An empty (or blank) text is
/// an empty object.
pub fn parse_jsonc(text: &str) -> Result<Value, JsoncError> {
    let blanked = blank(text)?;
    if blanked.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(&blanked).map_err(|e| JsoncError {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// An object member: key, offset of the key, span of the value.
type Member = (String, usize, (usize, usize));

/// A scanner over blanked JSON that records where values are.
struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn string(&mut self) -> Option<String> {
        let start = self.i;
        if self.s.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    let raw = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                    return serde_json::from_str(raw).ok();
                }
                _ => self.i += 1,
            }
        }
        None
    }

    /// Skips one value; returns its span.
    fn value(&mut self) -> Option<(usize, usize)> {
        self.ws();
        let start = self.i;
        match *self.s.get(self.i)? {
            b'{' | b'[' => {
                let mut depth = 0usize;
                while self.i < self.s.len() {
                    match self.s[self.i] {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some((start, self.i));
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                None
            }
            b'"' => {
                self.string()?;
                Some((start, self.i))
            }
            _ => {
                while self.i < self.s.len() && !b",}] \t\r\n".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                (self.i > start).then_some((start, self.i))
            }
        }
    }

    /// Members of the object starting at `self.i`: key, key start, value span.
    fn members(&mut self) -> Option<Vec<Member>> {
        self.ws();
        if self.s.get(self.i) != Some(&b'{') {
            return None;
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            self.ws();
            match self.s.get(self.i)? {
                b'}' => return Some(out),
                b',' => {
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            let key_start = self.i;
            let key = self.string()?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return None;
            }
            self.i += 1;
            let span = self.value()?;
            out.push((key, key_start, span));
        }
    }
}

/// Where an object is and what it holds.
struct ObjectSpan {
    open: usize,
    close: usize,
    members: Vec<Member>,
}

fn object_at(blanked: &str, start: usize) -> Option<ObjectSpan> {
    let mut sc = Scanner {
        s: blanked.as_bytes(),
        i: start,
    };
    sc.ws();
    let open = sc.i;
    let members = sc.members()?;
    Some(ObjectSpan {
        open,
        close: sc.i,
        members,
    })
}

/// Replaces (or inserts) the value at `path` with `value`, changing only the
/// bytes of that value (or inserting one member). Missing parent objects are
/// created. Fails when a parent on the path is not an object.
pub fn set_in_place(text: &str, path: &[String], value: &Value) -> Result<String, JsoncError> {
    let blanked = blank(text)?;
    let rendered = serde_json::to_string(value).map_err(|e| position(text, 0, &e.to_string()))?;
    if blanked.trim().is_empty() {
        return Ok(format!("{}\n", nested(path, &rendered, 0)));
    }
    parse_jsonc(text)?;
    let mut obj = object_at(&blanked, 0)
        .ok_or_else(|| position(text, 0, "the top level is not an object"))?;
    for (depth, key) in path.iter().enumerate() {
        let found = obj.members.iter().find(|(k, _, _)| k == key).cloned();
        match found {
            Some((_, _, (start, end))) if depth + 1 == path.len() => {
                let mut out = String::with_capacity(text.len() + rendered.len());
                out.push_str(&text[..start]);
                out.push_str(&rendered);
                out.push_str(&text[end..]);
                return Ok(out);
            }
            Some((_, _, (start, _))) => {
                obj = object_at(&blanked, start).ok_or_else(|| {
                    position(
                        text,
                        start,
                        &format!("{} is not an object", path[..=depth].join(".")),
                    )
                })?;
            }
            None => {
                let indent = member_indent(text, &obj);
                // Keep the file's line endings (rendered JSON has no raw newline).
                let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
                let member = format!(
                    "\"{}\": {}",
                    escape_key(key),
                    nested(&path[depth + 1..], &rendered, indent.len())
                )
                .replace('\n', nl);
                return Ok(insert_member(text, &blanked, &obj, &indent, &member, nl));
            }
        }
    }
    Err(position(text, 0, "empty key"))
}

fn escape_key(key: &str) -> String {
    let quoted = serde_json::to_string(key).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_owned()
}

/// `{"a": {"b": value}}` for the rest of the path, indented two spaces per level.
fn nested(path: &[String], rendered: &str, indent: usize) -> String {
    match path.split_first() {
        None => rendered.to_owned(),
        Some((key, rest)) => {
            let inner = " ".repeat(indent + 2);
            format!(
                "{{\n{inner}\"{}\": {}\n{}}}",
                escape_key(key),
                nested(rest, rendered, indent + 2),
                " ".repeat(indent)
            )
        }
    }
}

/// The indentation of the object's members (that of its first member, or the
/// object's own line plus two spaces).
fn member_indent(text: &str, obj: &ObjectSpan) -> String {
    let line_indent = |offset: usize| {
        let line_start = text[..offset].rfind('\n').map_or(0, |n| n + 1);
        text[line_start..]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect::<String>()
    };
    match obj.members.first() {
        Some((_, key_start, _)) => line_indent(*key_start),
        None => format!("{}  ", line_indent(obj.open)),
    }
}

fn insert_member(
    text: &str,
    blanked: &str,
    obj: &ObjectSpan,
    indent: &str,
    member: &str,
    nl: &str,
) -> String {
    let mut out = String::with_capacity(text.len() + member.len() + 8);
    match obj.members.last() {
        Some((_, _, (_, end))) => {
            // After the last value; reuse a trailing comma if the user left one.
            let between = &blanked[*end..obj.close];
            let has_comma = text[*end..obj.close].contains(',') && !between.contains(',');
            out.push_str(&text[..*end]);
            if has_comma {
                let comma = *end + text[*end..obj.close].find(',').unwrap_or(0) + 1;
                out.push_str(&text[*end..comma]);
                out.push_str(&format!("{nl}{indent}{member}"));
                out.push_str(&text[comma..]);
            } else {
                out.push_str(&format!(",{nl}{indent}{member}"));
                out.push_str(&text[*end..]);
            }
        }
        None => {
            let close_indent = indent.get(2..).unwrap_or("");
            out.push_str(&text[..obj.open + 1]);
            out.push_str(&format!("{nl}{indent}{member}{nl}{close_indent}"));
            out.push_str(text[obj.open + 1..obj.close].trim_start_matches([' ', '\t']));
            out.push_str(&text[obj.close..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn comments_and_trailing_commas() {
        let v = parse_jsonc("{ // hi\n \"a\": \"x // not a comment\", /* c */ \"b\": [1,2,], }")
            .unwrap();
        assert_eq!(v["a"], "x // not a comment");
        assert_eq!(v["b"], serde_json::json!([1, 2]));
        assert!(parse_jsonc("{ /* open").is_err());
        assert_eq!(parse_jsonc("\u{feff}{\"a\": 1}").unwrap()["a"], 1);
        assert_eq!(parse_jsonc("{\"a\": \"é\" /* ü */}").unwrap()["a"], "é");
        assert!(parse_jsonc("{\"a\": }").is_err());
        assert_eq!(
            parse_jsonc("  // only a comment\n").unwrap(),
            serde_json::json!({})
        );
    }

    #[test]
    fn replaces_only_the_value() {
        let text = "{\n  // mode\n  \"security\": { \"sandbox\": { \"mode\": \"standard\" /* was strict */ } }\n}\n";
        let out = set_in_place(text, &path("security.sandbox.mode"), &"strict".into()).unwrap();
        assert_eq!(out, text.replace("\"standard\"", "\"strict\""));
    }

    #[test]
    fn inserts_missing_members() {
        let text = "{\n  \"gateway\": {\n    \"port\": 3000 // the port\n  }\n}\n";
        let out = set_in_place(text, &path("gateway.bind"), &"127.0.0.1".into()).unwrap();
        let v = parse_jsonc(&out).unwrap();
        assert_eq!(v["gateway"]["bind"], "127.0.0.1");
        assert_eq!(v["gateway"]["port"], 3000);
        assert!(out.contains("// the port"));
        let out = set_in_place(&out, &path("security.autoSuspend.enabled"), &true.into()).unwrap();
        let v = parse_jsonc(&out).unwrap();
        assert_eq!(v["security"]["autoSuspend"]["enabled"], true);
        let out = set_in_place("{}", &path("a.b"), &1.into()).unwrap();
        assert_eq!(
            parse_jsonc(&out).unwrap(),
            serde_json::json!({"a": {"b": 1}})
        );
        let out = set_in_place("", &path("a"), &1.into()).unwrap();
        assert_eq!(parse_jsonc(&out).unwrap(), serde_json::json!({"a": 1}));
        let out = set_in_place("{\"x\": 1,}", &path("y"), &2.into()).unwrap();
        assert_eq!(
            parse_jsonc(&out).unwrap(),
            serde_json::json!({"x": 1, "y": 2})
        );
    }

    #[test]
    fn keeps_crlf_line_endings() {
        let text = "{\r\n  \"gateway\": {\r\n    \"port\": 3000\r\n  }\r\n}\r\n";
        let out = set_in_place(text, &path("security.sandbox.mode"), &"strict".into()).unwrap();
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
        assert_eq!(
            parse_jsonc(&out).unwrap()["security"]["sandbox"]["mode"],
            "strict"
        );
    }

    #[test]
    fn refuses_non_object_parent() {
        assert!(set_in_place("{\"a\": 1}", &path("a.b"), &1.into()).is_err());
    }
}
