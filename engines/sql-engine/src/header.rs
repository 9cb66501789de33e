//! A SQL model's header: the `-- key: value` comment lines before its query, which say what the
//! model is (name, version, summary, task, subject kind) and which parameters it takes.
//!
//! ```sql
//! -- name: lending-sql
//! -- version: 0.1.0
//! -- summary: Lenders who file many private-lending suits.
//! -- task: private-lending-fraud
//! -- subject: lender
//! -- param: min_suits int 15 Suits a lender must have filed
//! SELECT ...
//! ```
//!
//! A parameter is `name type default description`; the query reads it as the typed placeholder
//! `$name` (never spliced into the text). Types: `int`, `float`, `bool`, `text`.

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Int,
    Float,
    Bool,
    Text,
}

/// A declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    /// The default as written (checked against the type when parsed).
    pub default: String,
    pub description: String,
}

/// What the header says.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub name: String,
    pub version: String,
    pub summary: String,
    pub task: String,
    pub subject: String,
    pub params: Vec<Param>,
}

/// Split `text` into its header and its query. Errors name the line and what is wrong.
pub fn parse(text: &str) -> Result<(Header, &str), String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut params = Vec::new();
    let mut query_at = text.len();
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim();
        let Some(comment) = trimmed.strip_prefix("--") else {
            if trimmed.is_empty() {
                offset += line.len();
                continue;
            }
            query_at = offset;
            break;
        };
        offset += line.len();
        let comment = comment.trim();
        let Some((key, value)) = comment.split_once(':') else { continue };
        let (key, value) = (key.trim(), value.trim());
        if key == "param" {
            params.push(parse_param(value).map_err(|e| format!("line {}: {e}", number + 1))?);
        } else if ["name", "version", "summary", "task", "subject"].contains(&key) {
            if fields.iter().any(|(k, _)| k == key) {
                return Err(format!("line {}: `{key}` is given twice", number + 1));
            }
            fields.push((key.to_string(), value.to_string()));
        }
    }
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the header has no `-- {key}:` line"))
    };
    let header = Header {
        name: field("name")?,
        version: field("version")?,
        summary: field("summary").unwrap_or_default(),
        task: field("task")?,
        subject: field("subject")?,
        params,
    };
    let query = text[query_at..].trim();
    if query.is_empty() {
        return Err("the model has a header but no query".into());
    }
    Ok((header, query))
}

fn parse_param(value: &str) -> Result<Param, String> {
    let mut words = value.splitn(4, char::is_whitespace).filter(|w| !w.is_empty());
    let usage = "a parameter is `-- param: name type default description`";
    let name = words.next().ok_or(usage)?;
    if !name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "parameter name {name:?}: lower-case letters, digits and `_`, starting with a letter"
        ));
    }
    let kind = match words.next().ok_or(usage)? {
        "int" => ParamKind::Int,
        "float" => ParamKind::Float,
        "bool" => ParamKind::Bool,
        "text" => ParamKind::Text,
        other => return Err(format!("parameter {name}: type {other:?} is not int, float, bool or text")),
    };
    let default = words.next().ok_or(usage)?.to_string();
    let valid = match kind {
        ParamKind::Int => default.parse::<i64>().is_ok(),
        ParamKind::Float => default.parse::<f64>().is_ok_and(f64::is_finite),
        ParamKind::Bool => default == "true" || default == "false",
        ParamKind::Text => true,
    };
    if !valid {
        return Err(format!("parameter {name}: default {default:?} is not a {kind:?}"));
    }
    let description = words.next().unwrap_or("").trim().to_string();
    Ok(Param { name: name.to_string(), kind, default, description })
}
