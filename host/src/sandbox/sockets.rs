//! `wasi:sockets` linked as always denied. A language's standard library imports the socket
//! interfaces whether or not a model uses them (CPython links seven), so refusing the imports
//! refuses every ordinary Python or JavaScript build. Instead they are linked to this module,
//! which holds no network code at all: creating a socket and resolving a name answer
//! `access-denied` (Python raises `PermissionError`), so no socket or lookup ever exists, and
//! every method on one is unreachable (a guest cannot forge a host resource) and traps if reached.
//! Only the `network` capability token and its error-code lookup stay wasmtime-wasi's: they do
//! nothing by themselves.

use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::SocketError;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddress, Network};
use wasmtime_wasi::p2::bindings::sockets::tcp_create_socket;
use wasmtime_wasi::p2::bindings::sync::sockets::tcp::{
    self, Duration, HostTcpSocket, InputStream, IpAddressFamily, IpSocketAddress, OutputStream, Pollable,
    ShutdownType, TcpSocket,
};
use wasmtime_wasi::p2::bindings::sync::sockets::udp::{
    self, HostIncomingDatagramStream, HostOutgoingDatagramStream, HostUdpSocket, IncomingDatagram,
    IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream, UdpSocket,
};
use wasmtime_wasi::p2::bindings::sync::sockets::udp_create_socket;

use super::state::RunState;

/// The socket interfaces' host: it keeps nothing.
pub struct Denied;

impl HasData for Denied {
    type Data<'a> = Denied;
}

/// Replace wasmtime-wasi's socket implementations in `linker` (which must allow shadowing)
/// with the denying ones.
pub fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    let host = |_: &mut RunState| Denied;
    tcp_create_socket::add_to_linker::<RunState, Denied>(linker, host)?;
    tcp::add_to_linker::<RunState, Denied>(linker, host)?;
    udp_create_socket::add_to_linker::<RunState, Denied>(linker, host)?;
    udp::add_to_linker::<RunState, Denied>(linker, host)?;
    ip_name_lookup::add_to_linker::<RunState, Denied>(linker, host)?;
    Ok(())
}

/// What every call that could reach the network answers.
fn denied<T>() -> Result<T, SocketError> {
    Err(ErrorCode::AccessDenied.into())
}

/// A call on a socket, stream or lookup that cannot exist (none is ever created).
fn unreachable<T>() -> wasmtime::Result<T> {
    Err(wasmtime::Error::msg("wasi:sockets: no socket exists on this host (every socket is denied)"))
}

/// Needed by the interfaces above to turn a [`SocketError`] into its code; this module's
/// `network` functions are never linked (wasmtime-wasi's stay).
impl network::Host for Denied {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        error.downcast()
    }
    fn network_error_code(&mut self, _: Resource<wasmtime::Error>) -> wasmtime::Result<Option<ErrorCode>> {
        Ok(None)
    }
}

impl network::HostNetwork for Denied {
    fn drop(&mut self, _: Resource<Network>) -> wasmtime::Result<()> {
        unreachable()
    }
}

impl tcp_create_socket::Host for Denied {
    fn create_tcp_socket(&mut self, _: IpAddressFamily) -> Result<Resource<TcpSocket>, SocketError> {
        denied()
    }
}

impl udp_create_socket::Host for Denied {
    fn create_udp_socket(&mut self, _: IpAddressFamily) -> Result<Resource<UdpSocket>, SocketError> {
        denied()
    }
}

impl ip_name_lookup::Host for Denied {
    fn resolve_addresses(
        &mut self,
        _: Resource<Network>,
        _: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        denied()
    }
}

impl HostResolveAddressStream for Denied {
    fn resolve_next_address(
        &mut self,
        _: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        denied()
    }
    fn subscribe(&mut self, _: Resource<ResolveAddressStream>) -> wasmtime::Result<Resource<Pollable>> {
        unreachable()
    }
    fn drop(&mut self, _: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        unreachable()
    }
}

impl tcp::Host for Denied {}

impl HostTcpSocket for Denied {
    fn start_bind(
        &mut self,
        _: Resource<TcpSocket>,
        _: Resource<Network>,
        _: IpSocketAddress,
    ) -> Result<(), SocketError> {
        denied()
    }
    fn finish_bind(&mut self, _: Resource<TcpSocket>) -> Result<(), SocketError> {
        denied()
    }
    fn start_connect(
        &mut self,
        _: Resource<TcpSocket>,
        _: Resource<Network>,
        _: IpSocketAddress,
    ) -> Result<(), SocketError> {
        denied()
    }
    fn finish_connect(
        &mut self,
        _: Resource<TcpSocket>,
    ) -> Result<(Resource<InputStream>, Resource<OutputStream>), SocketError> {
        denied()
    }
    fn start_listen(&mut self, _: Resource<TcpSocket>) -> Result<(), SocketError> {
        denied()
    }
    fn finish_listen(&mut self, _: Resource<TcpSocket>) -> Result<(), SocketError> {
        denied()
    }
    fn accept(
        &mut self,
        _: Resource<TcpSocket>,
    ) -> Result<(Resource<TcpSocket>, Resource<InputStream>, Resource<OutputStream>), SocketError> {
        denied()
    }
    fn local_address(&mut self, _: Resource<TcpSocket>) -> Result<IpSocketAddress, SocketError> {
        denied()
    }
    fn remote_address(&mut self, _: Resource<TcpSocket>) -> Result<IpSocketAddress, SocketError> {
        denied()
    }
    fn is_listening(&mut self, _: Resource<TcpSocket>) -> wasmtime::Result<bool> {
        unreachable()
    }
    fn address_family(&mut self, _: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily> {
        unreachable()
    }
    fn set_listen_backlog_size(&mut self, _: Resource<TcpSocket>, _: u64) -> Result<(), SocketError> {
        denied()
    }
    fn keep_alive_enabled(&mut self, _: Resource<TcpSocket>) -> Result<bool, SocketError> {
        denied()
    }
    fn set_keep_alive_enabled(&mut self, _: Resource<TcpSocket>, _: bool) -> Result<(), SocketError> {
        denied()
    }
    fn keep_alive_idle_time(&mut self, _: Resource<TcpSocket>) -> Result<Duration, SocketError> {
        denied()
    }
    fn set_keep_alive_idle_time(&mut self, _: Resource<TcpSocket>, _: Duration) -> Result<(), SocketError> {
        denied()
    }
    fn keep_alive_interval(&mut self, _: Resource<TcpSocket>) -> Result<Duration, SocketError> {
        denied()
    }
    fn set_keep_alive_interval(&mut self, _: Resource<TcpSocket>, _: Duration) -> Result<(), SocketError> {
        denied()
    }
    fn keep_alive_count(&mut self, _: Resource<TcpSocket>) -> Result<u32, SocketError> {
        denied()
    }
    fn set_keep_alive_count(&mut self, _: Resource<TcpSocket>, _: u32) -> Result<(), SocketError> {
        denied()
    }
    fn hop_limit(&mut self, _: Resource<TcpSocket>) -> Result<u8, SocketError> {
        denied()
    }
    fn set_hop_limit(&mut self, _: Resource<TcpSocket>, _: u8) -> Result<(), SocketError> {
        denied()
    }
    fn receive_buffer_size(&mut self, _: Resource<TcpSocket>) -> Result<u64, SocketError> {
        denied()
    }
    fn set_receive_buffer_size(&mut self, _: Resource<TcpSocket>, _: u64) -> Result<(), SocketError> {
        denied()
    }
    fn send_buffer_size(&mut self, _: Resource<TcpSocket>) -> Result<u64, SocketError> {
        denied()
    }
    fn set_send_buffer_size(&mut self, _: Resource<TcpSocket>, _: u64) -> Result<(), SocketError> {
        denied()
    }
    fn subscribe(&mut self, _: Resource<TcpSocket>) -> wasmtime::Result<Resource<Pollable>> {
        unreachable()
    }
    fn shutdown(&mut self, _: Resource<TcpSocket>, _: ShutdownType) -> Result<(), SocketError> {
        denied()
    }
    fn drop(&mut self, _: Resource<TcpSocket>) -> wasmtime::Result<()> {
        unreachable()
    }
}

impl udp::Host for Denied {}

impl HostUdpSocket for Denied {
    fn start_bind(
        &mut self,
        _: Resource<UdpSocket>,
        _: Resource<Network>,
        _: IpSocketAddress,
    ) -> Result<(), SocketError> {
        denied()
    }
    fn finish_bind(&mut self, _: Resource<UdpSocket>) -> Result<(), SocketError> {
        denied()
    }
    fn stream(
        &mut self,
        _: Resource<UdpSocket>,
        _: Option<IpSocketAddress>,
    ) -> Result<(Resource<IncomingDatagramStream>, Resource<OutgoingDatagramStream>), SocketError> {
        denied()
    }
    fn local_address(&mut self, _: Resource<UdpSocket>) -> Result<IpSocketAddress, SocketError> {
        denied()
    }
    fn remote_address(&mut self, _: Resource<UdpSocket>) -> Result<IpSocketAddress, SocketError> {
        denied()
    }
    fn address_family(&mut self, _: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily> {
        unreachable()
    }
    fn unicast_hop_limit(&mut self, _: Resource<UdpSocket>) -> Result<u8, SocketError> {
        denied()
    }
    fn set_unicast_hop_limit(&mut self, _: Resource<UdpSocket>, _: u8) -> Result<(), SocketError> {
        denied()
    }
    fn receive_buffer_size(&mut self, _: Resource<UdpSocket>) -> Result<u64, SocketError> {
        denied()
    }
    fn set_receive_buffer_size(&mut self, _: Resource<UdpSocket>, _: u64) -> Result<(), SocketError> {
        denied()
    }
    fn send_buffer_size(&mut self, _: Resource<UdpSocket>) -> Result<u64, SocketError> {
        denied()
    }
    fn set_send_buffer_size(&mut self, _: Resource<UdpSocket>, _: u64) -> Result<(), SocketError> {
        denied()
    }
    fn subscribe(&mut self, _: Resource<UdpSocket>) -> wasmtime::Result<Resource<Pollable>> {
        unreachable()
    }
    fn drop(&mut self, _: Resource<UdpSocket>) -> wasmtime::Result<()> {
        unreachable()
    }
}

impl HostIncomingDatagramStream for Denied {
    fn receive(
        &mut self,
        _: Resource<IncomingDatagramStream>,
        _: u64,
    ) -> Result<Vec<IncomingDatagram>, SocketError> {
        denied()
    }
    fn subscribe(&mut self, _: Resource<IncomingDatagramStream>) -> wasmtime::Result<Resource<Pollable>> {
        unreachable()
    }
    fn drop(&mut self, _: Resource<IncomingDatagramStream>) -> wasmtime::Result<()> {
        unreachable()
    }
}

impl HostOutgoingDatagramStream for Denied {
    fn check_send(&mut self, _: Resource<OutgoingDatagramStream>) -> Result<u64, SocketError> {
        denied()
    }
    fn send(
        &mut self,
        _: Resource<OutgoingDatagramStream>,
        _: Vec<OutgoingDatagram>,
    ) -> Result<u64, SocketError> {
        denied()
    }
    fn subscribe(&mut self, _: Resource<OutgoingDatagramStream>) -> wasmtime::Result<Resource<Pollable>> {
        unreachable()
    }
    fn drop(&mut self, _: Resource<OutgoingDatagramStream>) -> wasmtime::Result<()> {
        unreachable()
    }
}
