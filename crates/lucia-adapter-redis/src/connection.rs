//! One connection type over a single Redis server or a Redis Cluster, and how their errors
//! become [`AdapterError`]s.

use lucia::AdapterError;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
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
#[derive(Debug, Clone)]
pub(crate) enum ScanTarget {
    Single,
    Primary { host: String, port: u16 },
}

impl Connection {
    /// Every server whose keys a full `SCAN` must visit.
    pub(crate) async fn scan_targets(&self) -> Result<Vec<ScanTarget>, RedisError> {
        let Self::Cluster(connection) = self else { return Ok(vec![ScanTarget::Single]) };
        // A command sent to every primary answers with a map keyed by each one's address.
        let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
        let answers = connection.clone().route_command(redis::cmd("PING"), routing).await?;
        let Value::Map(answers) = answers else {
            return Err(RedisError::from((ErrorKind::Parse, "unexpected answer listing the cluster's primaries")));
        };
        answers
            .into_iter()
            .map(|(address, _)| {
                let address: String = redis::from_redis_value(address)?;
                let parsed = address.rsplit_once(':').and_then(|(host, port)| {
                    Some(ScanTarget::Primary {
                        host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
                        port: port.parse().ok()?,
                    })
                });
                parsed.ok_or_else(|| RedisError::from((ErrorKind::Parse, "unexpected cluster node address")))
            })
            .collect()
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
