//! Blobs in an S3-compatible object store, for hosts that share one (`SIEVE_BLOBS=s3://bucket/prefix`).
//!
//! The store is reached through `object_store`, which is asynchronous; the rest of the blob store is
//! not (it is called from sandbox threads, import threads and async handlers alike). So each
//! request runs on a small runtime of this module's own and the caller waits for it on a plain
//! channel, which is safe from any thread, a runtime's worker included. A streamed read runs on a
//! thread of its own that feeds the caller's reader chunk by chunk, so a large table is never held
//! whole in memory twice.

use std::io::Read;
use std::path::Path as FilePath;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};

use super::blobs::BlobError;

/// Files larger than this are uploaded in parts of this size, read from disk as they go.
const PART_BYTES: usize = 16 << 20;
/// Chunks of a streamed read waiting for the reader.
const READ_AHEAD: usize = 4;

/// Where blobs live in an object store, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The key prefix every blob is stored under (no leading or trailing `/`; may be empty).
    pub prefix: String,
}

impl S3Location {
    /// Parse `s3://bucket/prefix` (the prefix is optional).
    pub fn parse(url: &str) -> Result<S3Location, BlobError> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            BlobError::Storage(format!(
                "SIEVE_BLOBS={url}: expected s3://bucket/prefix (or leave it unset for the home directory)"
            ))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BlobError::Storage(format!("SIEVE_BLOBS={url}: no bucket named")));
        }
        Ok(S3Location { bucket: bucket.to_string(), prefix: prefix.trim_matches('/').to_string() })
    }
}

/// The object-store backend of [`super::blobs::BlobStore`].
pub struct S3Blobs {
    store: Arc<dyn ObjectStore>,
    location: S3Location,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Blobs({})", self.describe())
    }
}

impl Drop for S3Blobs {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks end, which panics on an async thread: the last
        // clone of a registry may well go there.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// How to reach an object store, beyond its bucket: the usual settings.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// An S3-compatible server's URL (plain `http://` is allowed for it); `None`: AWS itself.
    pub endpoint: Option<String>,
    /// Access key id and secret; `None`: what the environment provides.
    pub credentials: Option<(String, String)>,
    /// The region; `None`: what the environment provides.
    pub region: Option<String>,
    /// How long a request is retried while the store cannot be reached, before it fails with a
    /// `storage` error.
    pub retry_seconds: u64,
}

impl S3Settings {
    /// `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT`); the credentials and region as the AWS tools read
    /// them (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`); and
    /// `SIEVE_BLOBS_RETRY_SECONDS` (default 60).
    pub fn from_env() -> Result<S3Settings, BlobError> {
        let retry_seconds = match std::env::var("SIEVE_BLOBS_RETRY_SECONDS") {
            Ok(v) => v.parse::<u64>().map_err(|_| {
                BlobError::Storage(format!(
                    "SIEVE_BLOBS_RETRY_SECONDS={v}: expected a whole number of seconds"
                ))
            })?,
            Err(_) => 60,
        };
        let endpoint = std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT")).ok();
        Ok(S3Settings { endpoint, credentials: None, region: None, retry_seconds })
    }
}

impl S3Blobs {
    /// Connect to `location` with `settings`.
    pub fn connect(location: S3Location, settings: S3Settings) -> Result<S3Blobs, BlobError> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&location.bucket);
        let mut client = ClientOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(120));
        if let Some(endpoint) = settings.endpoint {
            client = client.with_allow_http(endpoint.starts_with("http://"));
            builder = builder.with_endpoint(endpoint);
        }
        if let Some((id, secret)) = settings.credentials {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        if let Some(region) = settings.region {
            builder = builder.with_region(region);
        }
        let retry = RetryConfig {
            retry_timeout: Duration::from_secs(settings.retry_seconds),
            max_retries: if settings.retry_seconds == 0 { 0 } else { 10 },
            ..RetryConfig::default()
        };
        let store = builder
            .with_retry(retry)
            .with_client_options(client)
            .build()
            .map_err(|e| BlobError::Storage(format!("s3://{}: {e}", location.bucket)))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sieve-blobs")
            .enable_all()
            .build()
            .map_err(|e| BlobError::Storage(format!("starting the object-store client: {e}")))?;
        Ok(S3Blobs { store: Arc::new(store), location, runtime: Some(runtime) })
    }

    /// `s3://bucket/prefix`, for messages.
    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.location.bucket, self.location.prefix)
    }

    fn key(&self, digest: &str) -> Path {
        let hex = digest.trim_start_matches("sha256:");
        match self.location.prefix.as_str() {
            "" => Path::from(format!("sha256/{hex}")),
            prefix => Path::from(format!("{prefix}/sha256/{hex}")),
        }
    }

    fn error(&self, digest: &str, e: object_store::Error) -> BlobError {
        match e {
            object_store::Error::NotFound { .. } => BlobError::Missing(digest.to_string()),
            e => BlobError::Storage(format!("{}: blob {digest}: {e}", self.describe())),
        }
    }

    /// Run `task` on this store's runtime and wait for it, from any thread (`None` if the runtime
    /// is gone or the task died).
    fn run<T: Send + 'static>(&self, task: impl Future<Output = T> + Send + 'static) -> Option<T> {
        let runtime = self.runtime.as_ref()?;
        let (done, result) = mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = done.send(task.await);
        });
        result.recv().ok()
    }

    /// [`S3Blobs::run`] for a request.
    fn wait<T: Send + 'static>(
        &self,
        request: impl Future<Output = object_store::Result<T>> + Send + 'static,
    ) -> object_store::Result<T> {
        self.run(request).unwrap_or_else(|| {
            Err(object_store::Error::Generic {
                store: "S3",
                source: "the request ended without an answer".into(),
            })
        })
    }

    /// The size of blob `digest`, or `None` if the store has no such object.
    pub fn size(&self, digest: &str) -> Result<Option<u64>, BlobError> {
        let (store, key) = (self.store.clone(), self.key(digest));
        match self.wait(async move { store.head(&key).await }) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(digest, e)),
        }
    }

    /// Store `bytes` as blob `digest` (the caller hashed them). A put of the same content again
    /// only rewrites the same bytes: content addressing makes it idempotent.
    pub fn put(&self, digest: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let (store, key, payload) =
            (self.store.clone(), self.key(digest), PutPayload::from(Bytes::copy_from_slice(bytes)));
        self.wait(async move { store.put(&key, payload).await })
            .map(|_| ())
            .map_err(|e| self.error(digest, e))
    }

    /// Store the file at `file` as blob `digest`, in parts of [`PART_BYTES`] read from disk as
    /// they are sent when it is large.
    pub fn put_file(&self, digest: &str, file: &FilePath, size: u64) -> Result<(), BlobError> {
        let io =
            |e: std::io::Error| BlobError::Io { path: file.display().to_string(), message: e.to_string() };
        if size <= PART_BYTES as u64 {
            let bytes = std::fs::read(file).map_err(io)?;
            return self.put(digest, &bytes);
        }
        let (store, key) = (self.store.clone(), self.key(digest));
        let upload =
            self.wait(async move { store.put_multipart(&key).await }).map_err(|e| self.error(digest, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut source = std::fs::File::open(file).map_err(io)?;
        let mut part = Vec::with_capacity(PART_BYTES);
        loop {
            part.clear();
            if (&mut source).take(PART_BYTES as u64).read_to_end(&mut part).map_err(io)? == 0 {
                break;
            }
            // Written on the runtime (the writer sends each full part as a task there), with at
            // most two parts in flight: the file is read no faster than it is sent.
            let step = async move {
                writer.write(&part);
                let capacity = writer.wait_for_capacity(2).await;
                (writer, part, capacity)
            };
            let (w, p, capacity) = self.run(step).ok_or_else(|| self.stopped())?;
            (writer, part) = (w, p);
            capacity.map_err(|e| self.error(digest, e))?;
        }
        self.wait(async move { writer.finish().await }).map(|_| ()).map_err(|e| self.error(digest, e))
    }

    fn stopped(&self) -> BlobError {
        BlobError::Storage(format!("{}: the object-store client stopped", self.describe()))
    }

    /// All of blob `digest`'s bytes (unchecked: the caller hashes them).
    pub fn get(&self, digest: &str) -> Result<Vec<u8>, BlobError> {
        let (store, key) = (self.store.clone(), self.key(digest));
        self.wait(async move { store.get(&key).await?.bytes().await })
            .map(|b| b.to_vec())
            .map_err(|e| self.error(digest, e))
    }

    /// A reader of blob `digest`'s bytes as they arrive, and their count.
    pub fn open(&self, digest: &str) -> Result<(Box<dyn Read + Send>, usize), BlobError> {
        // The answer's head carries the size: no separate request for it.
        let (store, key) = (self.store.clone(), self.key(digest));
        let got = self.wait(async move { store.get(&key).await }).map_err(|e| self.error(digest, e))?;
        let size = usize::try_from(got.meta.size)
            .map_err(|_| BlobError::Storage(format!("blob {digest} is too large")))?;
        let Some(runtime) = &self.runtime else { return Err(self.stopped()) };
        let (chunks, arrived) = mpsc::sync_channel::<Result<Bytes, String>>(READ_AHEAD);
        let handle = runtime.handle().clone();
        let name = format!("{}: blob {digest}", self.describe());
        std::thread::Builder::new()
            .name("sieve-blob-read".into())
            .spawn(move || {
                handle.block_on(async move {
                    let mut stream = got.into_stream();
                    while let Some(chunk) = stream.next().await {
                        // The reader stopped (it failed, or had what it wanted): stop fetching.
                        if chunks.send(chunk.map_err(|e| format!("{name}: {e}"))).is_err() {
                            return;
                        }
                    }
                })
            })
            .map_err(|e| BlobError::Storage(format!("starting a blob read: {e}")))?;
        Ok((Box::new(ChunkReader { arrived, current: Bytes::new() }), size))
    }
}

/// Reads the chunks a streamed get sends, in order.
struct ChunkReader {
    arrived: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.arrived.recv() {
                Ok(Ok(chunk)) => self.current = chunk,
                Ok(Err(message)) => return Err(std::io::Error::other(format!("storage: {message}"))),
                // The sender is done: the whole object was read.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
