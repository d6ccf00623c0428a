//! A TCP proxy for fault tests: put it between an adapter and its database server, then
//! switch it at runtime to make the connection misbehave.
//!
//! ```ignore
//! let proxy = FaultProxy::start(&url_address(&database_url)).await;
//! let db = connect(&proxied_url(&database_url, proxy.addr())).await;
//! proxy.stall();   // every connection stops moving bytes, both ways; sockets stay open
//! proxy.pass();    // bytes flow again
//! proxy.cut();     // every open connection is closed now, mid-query included
//! proxy.refuse();  // new connections are accepted and closed at once
//! ```
//!
//! The modes:
//!
//! - [`pass`](FaultProxy::pass): forwards bytes both ways (the initial mode).
//! - [`stall`](FaultProxy::stall): no byte is forwarded either way, on open connections and on
//!   new ones (which are still accepted and connected to the target), until another mode is
//!   set. Bytes read before the stall are held, not lost.
//! - [`cut`](FaultProxy::cut): closes both sides of every connection open at that moment
//!   (what a restarted server, a NAT timeout or a broken link looks like to the client);
//!   connections opened afterwards work as in the current mode. It is an event, not a mode.
//! - [`refuse`](FaultProxy::refuse): new connections are accepted and closed before a byte is
//!   exchanged (a server that is down); open ones keep working.
//!
//! The proxy listens on `127.0.0.1:0` and stops, closing every connection, when dropped. It
//! needs a tokio runtime with the I/O driver (`#[tokio::test]` has one).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with bytes and new connections (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    Stall,
    Refuse,
}

struct Shared {
    mode: watch::Sender<Mode>,
    /// Incremented by every cut; connections opened before it close.
    cuts: watch::Sender<u64>,
    /// Connections accepted and connected to the target.
    connections: AtomicU64,
}

/// A TCP proxy to one target address that can stall, cut and refuse connections on demand.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `target` (`host:port`), in pass-through
    /// mode. Panics if it cannot listen (a test setup error).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("the fault proxy cannot listen on 127.0.0.1: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("the fault proxy has no address: {e}"));
        let shared = Arc::new(Shared {
            mode: watch::Sender::new(Mode::Pass),
            cuts: watch::Sender::new(0),
            connections: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, target.to_owned(), Arc::clone(&shared)));
        Self { addr, shared, accept }
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Forward bytes both ways, and accept new connections.
    pub fn pass(&self) {
        self.shared.mode.send_replace(Mode::Pass);
    }

    /// Stop forwarding bytes both ways, keeping every socket open (new connections too).
    pub fn stall(&self) {
        self.shared.mode.send_replace(Mode::Stall);
    }

    /// Accept new connections and close them at once; open connections keep working.
    pub fn refuse(&self) {
        self.shared.mode.send_replace(Mode::Refuse);
    }

    /// Close every connection open now, both sides, whatever it is doing.
    pub fn cut(&self) {
        self.shared.cuts.send_modify(|cuts| *cuts += 1);
    }

    /// How many connections the proxy has forwarded (accepted and connected to the target)
    /// so far; refused ones do not count.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn accept_loop(listener: TcpListener, target: String, shared: Arc<Shared>) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            // A transient accept failure (out of descriptors, a connection reset before it
            // was accepted): keep listening.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        if *shared.mode.borrow() == Mode::Refuse {
            drop(client);
            continue;
        }
        let shared = Arc::clone(&shared);
        let target = target.clone();
        tokio::spawn(async move {
            // Subscribed before connecting, so a cut while connecting closes this one too.
            let mut cuts = shared.cuts.subscribe();
            let Ok(server) = TcpStream::connect(&target).await else { return };
            shared.connections.fetch_add(1, Ordering::SeqCst);
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            // Either direction ending (end of stream or error), or a cut, closes both sockets:
            // the halves are dropped when this task ends.
            tokio::select! {
                _ = pump(client_read, server_write, shared.mode.subscribe()) => {}
                _ = pump(server_read, client_write, shared.mode.subscribe()) => {}
                _ = cuts.changed() => {}
            }
        });
    }
}

/// Copies bytes from `from` to `to`, waiting while the mode is [`Mode::Stall`] before reading
/// and before writing what was read. Returns at end of stream or on an I/O error.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if mode.wait_for(|mode| *mode != Mode::Stall).await.is_err() {
            return;
        }
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if mode.wait_for(|mode| *mode != Mode::Stall).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// The `host:port` of a database URL such as `postgres://user@127.0.0.1:5432/test` or
/// `redis://127.0.0.1:6379`; without a port, the scheme's default (PostgreSQL 5432, MySQL
/// 3306, Redis 6379). Panics on a URL it cannot read (a test setup error).
pub fn url_address(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or_else(|| panic!("not a URL: {url}"));
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if host.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
        return host.to_owned();
    }
    let port = match scheme {
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        "redis" => 6379,
        _ => panic!("no port in {url}, and no default port known for {scheme}"),
    };
    format!("{host}:{port}")
}

/// `url` with its host and port replaced by `addr` (the proxy's), credentials, path and query
/// kept.
pub fn proxied_url(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or_else(|| panic!("not a URL: {url}"));
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let credentials = authority.rsplit_once('@').map_or("", |(credentials, _)| credentials);
    let at = if credentials.is_empty() { "" } else { "@" };
    format!("{scheme}://{credentials}{at}{addr}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn urls() {
        assert_eq!(url_address("postgres://postgres@127.0.0.1:5432/test"), "127.0.0.1:5432");
        assert_eq!(url_address("mysql://root:pw@db:3307/x?ssl=false"), "db:3307");
        assert_eq!(url_address("redis://127.0.0.1"), "127.0.0.1:6379");
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(
            proxied_url("postgres://postgres@127.0.0.1:5432/test", addr),
            "postgres://postgres@127.0.0.1:4000/test"
        );
        assert_eq!(proxied_url("redis://127.0.0.1:6379", addr), "redis://127.0.0.1:4000");
        assert_eq!(proxied_url("mysql://a:b@h/db?x=1", addr), "mysql://a:b@127.0.0.1:4000/db?x=1");
    }

    /// An echo server, and a proxy to it.
    async fn echo() -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        FaultProxy::start(&target).await
    }

    async fn round_trip(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(bytes).await?;
        let mut answer = vec![0; bytes.len()];
        stream.read_exact(&mut answer).await?;
        Ok(answer)
    }

    const SHORT: Duration = Duration::from_millis(200);

    #[tokio::test]
    async fn passes_stalls_cuts_and_refuses() {
        let proxy = echo().await;
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut stream, b"hello").await.unwrap(), b"hello");
        assert_eq!(proxy.connections(), 1);

        proxy.stall();
        let stalled = tokio::time::timeout(SHORT, round_trip(&mut stream, b"stalled")).await;
        assert!(stalled.is_err(), "no answer while stalled");
        proxy.pass();
        let mut rest = vec![0; 7];
        stream.read_exact(&mut rest).await.unwrap();
        assert_eq!(rest, b"stalled", "held bytes flow again");

        proxy.cut();
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await.unwrap();
        assert!(matches!(read, Ok(0) | Err(_)), "the cut connection is closed: {read:?}");
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut fresh, b"again").await.unwrap(), b"again", "new connections work after a cut");

        proxy.refuse();
        let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), round_trip(&mut refused, b"x")).await.unwrap();
        assert!(answer.is_err(), "a refused connection is closed");
        assert_eq!(round_trip(&mut fresh, b"open").await.unwrap(), b"open", "open connections keep working");
        assert_eq!(proxy.connections(), 2);
    }
}
