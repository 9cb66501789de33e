//! Uploads: the body streams into a temporary file under the spool directory, hashed on the
//! way, refused as soon as it passes its kind's size limit. Nothing is visible anywhere until the
//! registry has checked and stored it; a failed or abandoned upload leaves only a temporary file
//! that is deleted when it drops.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::HeaderMap;
use http_body_util::BodyExt as _;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// Largest plugin component accepted (interpreter-based components run to tens of MiB).
pub const PLUGIN_LIMIT: u64 = 64 << 20;
/// Largest SQL engine component accepted (a query engine compiled to WebAssembly is large).
pub const ENGINE_LIMIT: u64 = 256 << 20;
/// Largest dataset archive accepted.
pub const DATASET_LIMIT: u64 = 4 << 30;

/// A spooled upload.
pub struct Spooled {
    /// The temporary file (deleted on drop).
    pub file: tempfile::NamedTempFile,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

/// Stream `body` into a temporary file in `dir`, at most `limit` bytes (`what` names the upload
/// in errors).
pub async fn spool(body: Body, dir: &Path, limit: u64, what: &str) -> Result<Spooled, ApiError> {
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| ApiError::internal(format!("spooling the {what}: {e}")))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad_request(format!("reading the {what}: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        size += data.len() as u64;
        if size > limit {
            return Err(ApiError::too_large(format!(
                "the {what} is larger than the {} MiB allowed",
                limit >> 20
            )));
        }
        hasher.update(&data);
        file.write_all(&data).map_err(|e| ApiError::internal(format!("spooling the {what}: {e}")))?;
    }
    if size == 0 {
        return Err(ApiError::bad_request(format!("the {what} is empty")));
    }
    Ok(Spooled { file, digest: crate::digest::digest_of_hasher(hasher), size })
}

/// The whole body of an upload sent as `kind` (or as `application/octet-stream`), spooled under
/// `dir` within `limit` bytes and read back (`what` names it in errors).
pub async fn upload_bytes(
    headers: &HeaderMap,
    body: Body,
    dir: &Path,
    kind: &str,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, ApiError> {
    let sent = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if sent != kind && sent != "application/octet-stream" {
        return Err(ApiError::unsupported(format!("send the {what} as {kind}, not {sent:?}")));
    }
    let spooled = spool(body, dir, limit, what).await?;
    std::fs::read(spooled.file.path()).map_err(|e| ApiError::internal(format!("reading the upload: {e}")))
}

/// Unpack a dataset archive (tar) into a new directory under `dir`: only plain files at the top
/// level named `<table>.csv`, `<table>.parquet` or `labels.csv`; anything else (paths, links,
/// devices, other names) refuses the whole archive, so nothing outside the directory is touched.
pub fn unpack_dataset(archive: &Path, dir: &Path) -> Result<tempfile::TempDir, ApiError> {
    let out = tempfile::tempdir_in(dir).map_err(|e| ApiError::internal(format!("unpacking: {e}")))?;
    let file = std::fs::File::open(archive).map_err(|e| ApiError::internal(format!("unpacking: {e}")))?;
    let mut tar = tar::Archive::new(file);
    let entries =
        tar.entries().map_err(|e| ApiError::bad_request(format!("the dataset is not a tar archive: {e}")))?;
    let mut seen: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let mut entry =
            entry.map_err(|e| ApiError::bad_request(format!("the dataset archive is damaged: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| ApiError::bad_request(format!("an archive entry's name: {e}")))?
            .into_owned();
        let name = path.to_string_lossy().trim_start_matches("./").to_string();
        let kind = entry.header().entry_type();
        if kind.is_dir() && (name.is_empty() || name == ".") {
            continue;
        }
        if !kind.is_file() || !is_table_file_name(&name) {
            return Err(ApiError::bad_request(format!(
                "archive entry {name:?} is not a plain .csv or .parquet file at the top level"
            )));
        }
        let target = out.path().join(&name);
        if seen.contains(&target) {
            return Err(ApiError::bad_request(format!("archive entry {name:?} appears twice")));
        }
        let mut f = std::fs::File::create(&target)
            .map_err(|e| ApiError::internal(format!("unpacking {name}: {e}")))?;
        std::io::copy(&mut entry, &mut f)
            .map_err(|e| ApiError::bad_request(format!("unpacking {name}: {e}")))?;
        seen.push(target);
    }
    if seen.is_empty() {
        return Err(ApiError::bad_request("the dataset archive holds no files"));
    }
    Ok(out)
}

/// Whether `name` may name an uploaded table: a plain `.csv` or `.parquet` file name, no
/// directory part, not hidden.
pub(crate) fn is_table_file_name(name: &str) -> bool {
    !name.contains(['/', '\\'])
        && !name.starts_with('.')
        && (name.ends_with(".csv") || name.ends_with(".parquet"))
}

/// Receive a dataset sent as a `multipart/form-data` set of files (what a browser's file input
/// sends): each part a table named by its file name, as in an archive; at most `limit` bytes in
/// all, written into a new directory under `dir` that is deleted when it drops.
pub async fn receive_tables(
    mut form: axum::extract::Multipart,
    dir: &Path,
    limit: u64,
) -> Result<tempfile::TempDir, ApiError> {
    let out = tempfile::tempdir_in(dir).map_err(|e| ApiError::internal(format!("receiving: {e}")))?;
    let damaged = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("the multipart body is damaged: {}", e.body_text()))
    };
    let mut total = 0u64;
    let mut seen: Vec<String> = Vec::new();
    while let Some(mut field) = form.next_field().await.map_err(damaged)? {
        let Some(name) = field.file_name().map(str::to_string) else {
            return Err(ApiError::bad_request(format!(
                "form field {:?} is not a file: send each table as a file part",
                field.name().unwrap_or("")
            )));
        };
        if !is_table_file_name(&name) {
            return Err(ApiError::bad_request(format!(
                "uploaded file {name:?} is not a .csv or .parquet file name"
            )));
        }
        if seen.contains(&name) {
            return Err(ApiError::bad_request(format!("uploaded file {name:?} appears twice")));
        }
        let mut file = std::fs::File::create(out.path().join(&name))
            .map_err(|e| ApiError::internal(format!("receiving {name}: {e}")))?;
        while let Some(chunk) = field.chunk().await.map_err(damaged)? {
            total += chunk.len() as u64;
            if total > limit {
                return Err(ApiError::too_large(format!(
                    "the dataset is larger than the {} MiB allowed",
                    limit >> 20
                )));
            }
            file.write_all(&chunk).map_err(|e| ApiError::internal(format!("receiving {name}: {e}")))?;
        }
        seen.push(name);
    }
    if seen.is_empty() {
        return Err(ApiError::bad_request("the form holds no files"));
    }
    Ok(out)
}
