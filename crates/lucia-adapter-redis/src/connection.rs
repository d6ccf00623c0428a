//! One connection type over a single Redis server or a Redis Cluster, and how their errors
//! become [`AdapterError`]s.

use lucia::AdapterError;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, ErrorKind, RedisError, RedisFuture, ServerErrorKind, Value};

/// A single server through a [`ConnectionManager`] (reconnects by itself), or a cluster
/// (follows slot moves and reconnects by itself). Both multiplex commands over few sockets,
/// so clones are cheap and share them.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// A server to run a `SCAN` on: the single server, or one cluster primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanTarget {
    Single,
    Primary { host: String, port: u16 },
}

impl Connection {
    /// Every server whose keys a full `SCAN` must visit: the primaries `CLUSTER SLOTS` names,
    /// asked of one node (a command fanned out to every primary can stall in redis-rs 1.8
    /// until other traffic wakes the connection).
    pub(crate) async fn scan_targets(&self) -> Result<Vec<ScanTarget>, RedisError> {
        let Self::Cluster(connection) = self else { return Ok(vec![ScanTarget::Single]) };
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
        let slots = connection.clone().route_command(redis::cmd("CLUSTER").arg("SLOTS").clone(), routing).await?;
        // Each entry: start slot, end slot, then the primary as [host, port, id, ...], then replicas.
        let ranges: Vec<Vec<Value>> = redis::from_redis_value(slots)?;
        let mut targets: Vec<ScanTarget> = Vec::new();
        for range in ranges {
            let Some(primary) = range.into_iter().nth(2) else {
                return Err(RedisError::from((ErrorKind::Parse, "unexpected CLUSTER SLOTS answer")));
            };
            let (host, port): (String, u16) = match redis::from_redis_value::<Vec<Value>>(primary)?.as_slice() {
                [host, port, ..] => (redis::from_redis_value(host.clone())?, redis::from_redis_value(port.clone())?),
                _ => return Err(RedisError::from((ErrorKind::Parse, "unexpected CLUSTER SLOTS answer"))),
            };
            let target = ScanTarget::Primary { host, port };
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        Ok(targets)
    }

    /// One `SCAN` step on `target`: the next cursor and the keys found.
    pub(crate) async fn scan_step(
        &self,
        target: &ScanTarget,
        cursor: u64,
        pattern: &str,
        key_type: &str,
    ) -> Result<(u64, Vec<String>), RedisError> {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(1000).arg("TYPE").arg(key_type);
        let answer = match (self, target) {
            (Self::Cluster(connection), ScanTarget::Primary { host, port }) => {
                let routing =
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port });
                connection.clone().route_command(scan, routing).await?
            }
            (connection, _) => scan.query_async(&mut connection.clone()).await?,
        };
        Ok(redis::from_redis_value(answer)?)
    }
}

/// Connection failures (refused, dropped, timed out), a server still loading its data and a
/// cluster without a primary for the slot are outages: [`AdapterError::Unavailable`]. Every
/// other error is [`AdapterError::Database`].
pub(crate) fn adapter_error(error: RedisError) -> AdapterError {
    let outage = error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(
            error.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
            ) | ErrorKind::ClusterConnectionNotFound
        );
    if outage { AdapterError::unavailable(error) } else { AdapterError::database(error) }
}
