//! Uploads from the browser: a model component or a dataset's tables, sent as a multipart form
//! whose first field is the CSRF token (checked before a byte of the files is stored). Files
//! stream into a temporary directory under the spool, within the kind's size limit, and vanish
//! with it whatever happens; a small inline script shows the upload's progress where scripts run.

use std::io::Write as _;
use std::path::Path;

use axum::extract::Multipart;

/// What the form held: its text fields and the directory its files were written to.
pub struct Received {
    /// Text fields, in order.
    pub fields: Vec<(String, String)>,
    /// The files, under their checked names (deleted on drop).
    pub dir: tempfile::TempDir,
    /// File names, in order.
    pub files: Vec<String>,
}

impl Received {
    /// The text field `name`, or empty.
    pub fn field(&self, name: &str) -> &str {
        self.fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }
}

/// Why an upload was refused.
#[derive(Debug)]
pub enum Refused {
    /// The form did not start with this session's CSRF token.
    Csrf,
    /// The form or a file in it is unacceptable; the text says which.
    Bad(String),
}

/// Longest text field kept, in bytes.
const MAX_FIELD: usize = 4096;
/// Most text fields a form may carry (the upload forms have a handful).
const MAX_FIELDS: usize = 64;

/// Read `form`: the first field must be `csrf` and pass `csrf_ok`; each file's name must pass
/// `file_name_ok`; all files together at most `limit` bytes. The error says what was wrong.
pub async fn receive(
    mut form: Multipart,
    spool: &Path,
    limit: u64,
    csrf_ok: impl Fn(&str) -> bool,
    file_name_ok: impl Fn(&str) -> bool,
) -> Result<Received, Refused> {
    let bad = Refused::Bad;
    let dir = tempfile::tempdir_in(spool).map_err(|e| bad(format!("receiving: {e}")))?;
    let mut received = Received { fields: Vec::new(), dir, files: Vec::new() };
    let mut total = 0u64;
    let mut first = true;
    while let Some(mut field) =
        form.next_field().await.map_err(|e| bad(format!("the form is damaged: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        if first {
            first = false;
            let token = if name == "csrf" { field.text().await.unwrap_or_default() } else { String::new() };
            if !csrf_ok(&token) {
                return Err(Refused::Csrf);
            }
            continue;
        }
        match field.file_name().map(str::to_string) {
            None => {
                let text = field.text().await.map_err(|e| bad(format!("field {name}: {e}")))?;
                if text.len() > MAX_FIELD {
                    return Err(bad(format!("field {name} is longer than {MAX_FIELD} bytes")));
                }
                // Fields count against the limit too: a form of a million small fields is refused.
                total += text.len() as u64;
                if total > limit || received.fields.len() >= MAX_FIELDS {
                    return Err(bad(format!(
                        "the form has more than {MAX_FIELDS} fields or {} MiB",
                        limit >> 20
                    )));
                }
                received.fields.push((name, text));
            }
            Some(file) if file.is_empty() => continue,
            Some(file) => {
                if !file_name_ok(&file) || received.files.contains(&file) {
                    return Err(bad(format!("file {file:?} is not accepted here (or sent twice)")));
                }
                let mut out = std::fs::File::create(received.dir.path().join(&file))
                    .map_err(|e| bad(format!("receiving {file}: {e}")))?;
                while let Some(chunk) =
                    field.chunk().await.map_err(|e| bad(format!("receiving {file}: {e}")))?
                {
                    total += chunk.len() as u64;
                    if total > limit {
                        return Err(bad(format!(
                            "the upload is larger than the {} MiB allowed",
                            limit >> 20
                        )));
                    }
                    out.write_all(&chunk).map_err(|e| bad(format!("receiving {file}: {e}")))?;
                }
                received.files.push(file);
            }
        }
    }
    Ok(received)
}

/// The script that sends an upload form with a progress bar (the form works without it).
pub const PROGRESS_SCRIPT: &str = r#"
document.querySelectorAll('form[data-progress]').forEach(function (form) {
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var bar = document.getElementById(form.dataset.progress);
    bar.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; } };
    xhr.onload = function () {
      if (xhr.responseURL && xhr.responseURL !== form.action) { window.location = xhr.responseURL; }
      else { document.open(); document.write(xhr.responseText); document.close(); }
    };
    xhr.send(new FormData(form));
  });
});
"#;
