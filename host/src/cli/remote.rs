//! The CLI's remote mode: with `--server URL` (or `SIEVE_SERVER`) registry commands go to a
//! `sieve serve` over HTTP, so a user needs no access to the registry's home, database or keys,
//! only a token. Output and exit codes are the local ones: records come back as the same types
//! and are printed by the same code; a refusal exits 3, an unknown name 4, an altered blob 18.

use std::time::Duration;

use anyhow::Context as _;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An error the server answered, with its code and message (the registry's own words).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    /// HTTP status.
    pub status: u16,
    /// The API's error code.
    pub code: String,
    /// The message.
    pub message: String,
}

impl RemoteError {
    /// The exit status a local run of the command would have had.
    pub fn exit_code(&self) -> i32 {
        match self.code.as_str() {
            "unauthenticated" | "forbidden" => 3,
            "not_found" => 4,
            "hash_mismatch" => crate::sandbox::outcome::HASH_MISMATCH_EXIT,
            _ => 1,
        }
    }
}

/// A connection to a server, as the holder of a token.
pub struct Remote {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Remote {
    /// A client for the server at `base` (`http://host:port` or `https://...`).
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Remote> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            anyhow::bail!("--server must be an http:// or https:// URL, got {base:?}");
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Ok(Remote { base: base.trim_end_matches('/').to_string(), token, agent })
    }

    /// Send a request; the status, content type and body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<(u16, String, Vec<u8>)> {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = &self.token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        let response = match body {
            Some((kind, bytes)) => self.agent.run(request.header("content-type", kind).body(bytes)?),
            None => self.agent.run(request.body(())?),
        };
        let mut response = response.with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        let kind =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = response
            .body_mut()
            .with_config()
            .limit(8 << 30)
            .read_to_vec()
            .with_context(|| format!("reading {url}"))?;
        Ok((status, kind, body))
    }

    /// Send a request and read a JSON answer, or the server's error.
    pub fn json<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<T> {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        self.typed(method, path, body)
    }

    /// Send a request with a body of `kind` and read a JSON answer, or the server's error.
    pub fn typed<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<T> {
        let (status, _, bytes) = self.call(method, path, body)?;
        check(status, &bytes)?;
        serde_json::from_slice(&bytes).with_context(|| format!("the server's answer to {method} {path}"))
    }

    /// A GET whose answer is text (exports), or the server's error.
    pub fn text(&self, path: &str) -> anyhow::Result<String> {
        Ok(String::from_utf8_lossy(&self.bytes(path)?).into_owned())
    }

    /// A GET whose answer is bytes (archives), or the server's error.
    pub fn bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let (status, _, bytes) = self.call("GET", path, None)?;
        check(status, &bytes)?;
        Ok(bytes)
    }
}

fn check(status: u16, bytes: &[u8]) -> Result<(), RemoteError> {
    if status < 400 {
        return Ok(());
    }
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    Err(RemoteError {
        status,
        code: v["error"]["code"].as_str().unwrap_or("http_error").to_string(),
        message: v["error"]["message"].as_str().map_or_else(
            || format!("the server answered {status}: {}", String::from_utf8_lossy(bytes)),
            String::from,
        ),
    })
}

pub use crate::text::percent_encode as encode;

/// A command that runs only next to the registry.
pub fn local_only(command: &str) -> anyhow::Error {
    anyhow::anyhow!("`sieve {command}` works on the registry's own machine only, not with --server")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_encoding_match_the_local_ones() {
        let e =
            |code: &str| RemoteError { status: 400, code: code.into(), message: String::new() }.exit_code();
        assert_eq!(
            (e("forbidden"), e("unauthenticated"), e("not_found"), e("hash_mismatch"), e("conflict")),
            (3, 3, 4, 18, 1)
        );
        assert_eq!(encode("a b/c@1"), "a%20b%2Fc@1");
        assert!(Remote::new("ftp://x", None).is_err());
    }
}
