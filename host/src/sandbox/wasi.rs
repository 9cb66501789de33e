//! Locked-down WASI p2: what a language's standard library imports, with nothing that reaches the
//! host. Clocks are frozen and every pollable is ready at once (a sleep returns immediately, so no
//! host call can block past the deadline); stdout and stderr are bounded buffers whose overflow is
//! an `output-limit`; the few WASI calls that take a guest-sized list are replaced by versions that
//! check the size before copying anything.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, WasmList};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::bindings::sync::io::{poll as sync_poll, streams as sync_streams};
use wasmtime_wasi::p2::{DynOutputStream, DynPollable, OutputStream, Pollable, StreamError, subscribe};

use super::state::{HostStop, RunState};

/// The WASI 0.2 release the linked bindings implement; guests importing any 0.2.x resolve to it.
/// The replacements below are registered under this name so they shadow the stock functions
/// (a test drives each of them, so a wasmtime-wasi upgrade that moves the version is caught).
const WASI_VERSION: &str = "0.2.12";

/// Most pollables one `poll` call may wait on.
pub const MAX_POLL_LIST: usize = 4096;
/// Most bytes of random data one call may ask for.
pub const MAX_RANDOM_BYTES: u64 = 1 << 20;
/// What `blocking-write-and-flush` accepts per call (the WASI contract).
const MAX_BLOCKING_WRITE: usize = 4096;

/// Link WASI with the host's replacements for clocks, `poll` and stream writes.
pub fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    super::sockets::add_to_linker(linker)?;

    let mut clock = linker.instance(&format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"))?;
    // Time is frozen for the guest: every wait is already over.
    clock.func_wrap("subscribe-duration", |mut store: StoreContextMut<RunState>, (_,): (u64,)| {
        Ok((ready_pollable(&mut store)?,))
    })?;
    clock.func_wrap("subscribe-instant", |mut store: StoreContextMut<RunState>, (_,): (u64,)| {
        Ok((ready_pollable(&mut store)?,))
    })?;

    let mut poll = linker.instance(&format!("wasi:io/poll@{WASI_VERSION}"))?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<RunState>, (list,): (WasmList<Resource<DynPollable>>,)| {
            if list.len() > MAX_POLL_LIST {
                return Err(HostStop::Misuse(format!(
                    "poll was given {} pollables; the host accepts at most {MAX_POLL_LIST}",
                    list.len()
                ))
                .into());
            }
            let pollables = list.iter(&mut store)?.collect::<wasmtime::Result<Vec<_>>>()?;
            let ready = sync_poll::Host::poll(store.data_mut().table(), pollables)?;
            Ok((ready,))
        },
    )?;

    let mut streams = linker.instance(&format!("wasi:io/streams@{WASI_VERSION}"))?;
    for (name, flush) in
        [("[method]output-stream.write", false), ("[method]output-stream.blocking-write-and-flush", true)]
    {
        streams.func_wrap(
            name,
            move |mut store: StoreContextMut<RunState>,
                  (stream, bytes): (Resource<DynOutputStream>, WasmList<u8>)| {
                let result = write(&mut store, &stream, &bytes, flush);
                Ok((stream_result(&mut store, result)?,))
            },
        )?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

/// A pollable that is always ready: the frozen clock's answer to any wait.
struct Ready;

#[wasmtime_wasi::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

fn ready_pollable(store: &mut StoreContextMut<RunState>) -> wasmtime::Result<Resource<DynPollable>> {
    let table = store.data_mut().table();
    let ready = table.push(Ready)?;
    subscribe(table, ready)
}

/// A stream write whose size is checked against the stream's permit before a byte is copied.
fn write(
    store: &mut StoreContextMut<RunState>,
    stream: &Resource<DynOutputStream>,
    bytes: &WasmList<u8>,
    flush: bool,
) -> Result<(), StreamError> {
    if flush && bytes.len() > MAX_BLOCKING_WRITE {
        return Err(StreamError::trap("blocking-write-and-flush takes at most 4096 bytes"));
    }
    let permit = store.data_mut().table().get_mut(stream)?.check_write()?;
    if bytes.len() > permit {
        return Err(StreamError::Trap(
            HostStop::Output(format!(
                "a write of {} bytes to an output stream that accepts {permit} more (the limit on captured output)",
                bytes.len()
            ))
            .into(),
        ));
    }
    let data = Bytes::copy_from_slice(bytes.as_le_slice(&*store));
    let out = store.data_mut().table().get_mut(stream)?;
    out.write(data)?;
    if flush {
        out.flush()?;
    }
    Ok(())
}

fn stream_result(
    store: &mut StoreContextMut<RunState>,
    result: Result<(), StreamError>,
) -> wasmtime::Result<Result<(), sync_streams::StreamError>> {
    match result {
        Ok(()) => Ok(Ok(())),
        Err(e) => Ok(Err(sync_streams::Host::convert_stream_error(store.data_mut().table(), e)?)),
    }
}

/// stdout or stderr of one run: a buffer that keeps at most `capacity` bytes. Writing past it stops
/// the run with an `output-limit` (a trap inside the guest would hide what happened).
#[derive(Clone)]
pub struct BoundedPipe {
    name: &'static str,
    capacity: usize,
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl BoundedPipe {
    /// An empty pipe called `name` (`stdout`, `stderr`) holding at most `capacity` bytes.
    pub fn new(name: &'static str, capacity: usize) -> Self {
        BoundedPipe { name, capacity, buffer: Arc::default() }
    }

    /// What the guest wrote.
    pub fn contents(&self) -> Vec<u8> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn overflow(&self) -> StreamError {
        StreamError::Trap(
            HostStop::Output(format!(
                "the model wrote more than {} bytes to {} (the limit on captured output)",
                self.capacity, self.name
            ))
            .into(),
        )
    }
}

impl IsTerminal for BoundedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for BoundedPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        if bytes.len() > self.capacity - buffer.len() {
            drop(buffer);
            return Err(self.overflow());
        }
        buffer.extend_from_slice(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        let used = self.len();
        if used >= self.capacity { Err(self.overflow()) } else { Ok(self.capacity - used) }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BoundedPipe {
    async fn ready(&mut self) {}
}

/// Only WASI p3 guests would write through this; the host links p2 alone. Keeps what fits.
impl tokio::io::AsyncWrite for BoundedPipe {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let n = buf.len().min(self.capacity - buffer.len());
        buffer.extend_from_slice(&buf[..n]);
        std::task::Poll::Ready(Ok(n))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
