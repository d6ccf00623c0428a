//! `cargo run -p lucia-demo [-- --port 3000 --host 127.0.0.1 --database-url URL --redis-url URL ...]`

use std::process::ExitCode;

use lucia_demo::{Config, DEFAULT_DATABASE_URL, redact_database_url, redact_password_in};

const HELP: &str = "\
lucia-demo: sign up, sign in and manage sessions with lucia-rs

Usage: lucia-demo [--port PORT] [--host ADDRESS] [--database-url URL] [--redis-url URL]
                  [--public-origin ORIGIN] [--allowed-hosts HOSTS] [--trusted-proxy-header NAME]
                  [--sign-in-burst N]
                  [--smtp-url URL] [--mail-dir DIR] [--mail-from ADDRESS]
                  [--totp-key-file PATH] [--passkey-origin ORIGIN] [--passkey-rp-id DOMAIN]
                  [--production] [--lucia-v2-compat]

  --port PORT            port to listen on (env PORT; default 3000)
  --host ADDRESS         address to listen on (env HOST; default 127.0.0.1)
  --database-url URL     sqlite://, postgres:// or mysql:// URL (env DATABASE_URL;
                         default sqlite://lucia-demo.db?mode=rwc)
  --redis-url URL        keep sessions in Redis (redis://[:password@]host:port[/db]), users and
                         keys in the database, so that several instances can share them; the
                         sign-in attempts per account are counted there too (env REDIS_URL;
                         default: sessions in the database, attempts in memory)
  --public-origin ORIGIN origin browsers use behind a reverse proxy, e.g. https://example.com;
                         also the origin of the links in mails (env PUBLIC_ORIGIN; default:
                         links to the address the demo listens on)
  --allowed-hosts HOSTS  comma-separated host names the demo answers for, e.g.
                         example.com,.example.net (a leading dot: and its subdomains); any other
                         Host header is answered 400, against DNS rebinding; the public
                         origin's host is always allowed (env ALLOWED_HOSTS; default: any host)
  --trusted-proxy-header NAME
                         behind a reverse proxy that always sets it, the header with the client
                         address for the per-IP sign-in limit, e.g. x-forwarded-for (its
                         right-most entry; env TRUSTED_PROXY_HEADER; default: off, the
                         connection's address)
  --sign-in-burst N      sign-ins and sign-ups per client address: N at once, then one more
                         every 3 seconds (env SIGN_IN_BURST; default 20; 0 turns the per-IP
                         limit off, the per-account throttle stays)
  --smtp-url URL         send verification codes and reset links through this SMTP server:
                         smtp://host:port (plain, a local relay),
                         smtp://user:password@host?tls=required (STARTTLS, port 587),
                         smtps://user:password@host (TLS, port 465) (env SMTP_URL; default:
                         no SMTP, mail is written to --mail-dir)
  --mail-dir DIR         without SMTP, where each mail is written as one .eml file
                         (env MAIL_DIR; default ./lucia-demo-mail)
  --mail-from ADDRESS    sender of the demo's mail (env MAIL_FROM;
                         default \"lucia demo <no-reply@localhost>\")
  --totp-key-file PATH   file holding the key that encrypts TOTP secrets at rest (base64 of 32
                         bytes), made with a new random key on the first start if missing
                         (env TOTP_KEY_FILE; default lucia-demo-totp.key beside the SQLite file,
                         or in the working directory with a server database); keep it safe:
                         without it, authenticator apps stop working (recovery codes still do)
  --passkey-origin ORIGIN
                         the exact origin passkeys are used from (env PASSKEY_ORIGIN; default:
                         --public-origin, else http://localhost:PORT: open the demo there, not
                         at 127.0.0.1, to use passkeys)
  --passkey-rp-id DOMAIN the WebAuthn relying-party id passkeys are bound to: the origin's host
                         or a registrable domain above it; changing it later loses every
                         passkey (env PASSKEY_RP_ID; default: the passkey origin's host)
  --hashing-cgroup DIR   run password hashes in this cgroup, made if missing with cpu.idle = 1
                         (Linux; needs root or a delegated cgroup), so that Redis and the
                         database on the same cores do not wait behind a hash where the
                         cgroup is a peer of theirs (see lucia::HashingCgroup) (env
                         HASHING_CGROUP; default: hashes in this process's background only)
  --production           Secure cookies, https origin, Strict-Transport-Security (env PRODUCTION=1);
                         needs --public-origin, --smtp-url, and LUCIA_TOTP_KEY or --totp-key-file
  --lucia-v2-compat      share the database with a Lucia v2 application: session ids stored in
                         clear, as Lucia v2 does (env LUCIA_V2_COMPAT=1); by default they are
                         stored as their SHA-256

Sign in with providers (environment only; each needs --public-origin, and registers the
redirect URL <public origin>/login/<provider>/callback with the provider):
  OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET
                         an OpenID Connect provider, found by discovery from its issuer URL
  OIDC_NAME              its name in routes and keys (default oidc: /login/oidc)
  GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET
                         GitHub (/login/github)
  OAUTH_COOKIE_KEY       secret (32+ characters) the sign-in flow cookie's key is derived
                         from; the same on every instance (default: a random key per start)

Secrets (environment only):
  LUCIA_TOTP_KEY         the key that encrypts TOTP secrets at rest: base64 of 32 bytes
                         (openssl rand -base64 32), the same on every instance; takes the place
                         of --totp-key-file

Logs go to stderr; RUST_LOG=debug|info|warn|error sets the level.";

struct Options {
    host: String,
    port: u16,
    config: Config,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut host = env("HOST").unwrap_or_else(|| "127.0.0.1".into());
    let mut port = env("PORT").unwrap_or_else(|| "3000".into());
    let mut database_url = env("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
    let mut redis_url = env("REDIS_URL");
    let mut public_origin = env("PUBLIC_ORIGIN");
    let mut allowed_hosts = env("ALLOWED_HOSTS");
    let mut trusted_proxy_header = env("TRUSTED_PROXY_HEADER");
    let mut sign_in_burst = env("SIGN_IN_BURST");
    let mut smtp_url = env("SMTP_URL");
    let mut mail_dir = env("MAIL_DIR").map(std::path::PathBuf::from);
    let mut mail_from = env("MAIL_FROM");
    let mut totp_key_file = env("TOTP_KEY_FILE").map(std::path::PathBuf::from);
    let mut passkey_origin = env("PASSKEY_ORIGIN");
    let mut passkey_rp_id = env("PASSKEY_RP_ID");
    let mut hashing_cgroup = env("HASHING_CGROUP");
    let flag = |name: &str| env(name).is_some_and(|v| v == "1" || v == "true");
    let mut production = flag("PRODUCTION");
    let mut lucia_v2_compat = flag("LUCIA_V2_COMPAT");
    let mut args = args.skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => port = value()?,
            "--host" => host = value()?,
            "--database-url" => database_url = value()?,
            "--redis-url" => redis_url = Some(value()?),
            "--public-origin" => public_origin = Some(value()?),
            "--allowed-hosts" => allowed_hosts = Some(value()?),
            "--trusted-proxy-header" => trusted_proxy_header = Some(value()?),
            "--sign-in-burst" => sign_in_burst = Some(value()?),
            "--smtp-url" => smtp_url = Some(value()?),
            "--mail-dir" => mail_dir = Some(value()?.into()),
            "--mail-from" => mail_from = Some(value()?),
            "--totp-key-file" => totp_key_file = Some(value()?.into()),
            "--passkey-origin" => passkey_origin = Some(value()?),
            "--passkey-rp-id" => passkey_rp_id = Some(value()?),
            "--hashing-cgroup" => hashing_cgroup = Some(value()?),
            "--production" => production = true,
            "--lucia-v2-compat" => lucia_v2_compat = true,
            other => return Err(format!("unknown argument {other} (see --help)")),
        }
    }
    let port: u16 = port.parse().map_err(|_| format!("invalid port {port}"))?;
    let public_origin: Option<lucia::Origin> = match public_origin {
        Some(origin) => Some(origin.parse().map_err(|e| format!("invalid public origin {origin}: {e}"))?),
        None => None,
    };
    // Passkeys need a domain (not an IP address) and a secure context: `localhost` is both.
    let passkey_origin = match (passkey_origin, &public_origin) {
        (Some(origin), _) => origin,
        (None, Some(public)) => public.to_string(),
        (None, None) => format!("http://localhost:{port}"),
    };
    let passkey_origin =
        url::Url::parse(&passkey_origin).map_err(|e| format!("invalid passkey origin {passkey_origin}: {e}"))?;
    let totp_key = match env("LUCIA_TOTP_KEY") {
        // Not the value in the message: it is a secret.
        Some(key) => Some(
            lucia::TotpEncryptionKey::from_base64(&key)
                .map_err(|_| "LUCIA_TOTP_KEY is not base64 of 32 bytes (openssl rand -base64 32)".to_owned())?,
        ),
        None => None,
    };
    let allowed_hosts = match allowed_hosts {
        Some(hosts) => hosts
            .split(',')
            .map(|host| host.trim().parse().map_err(|e| format!("--allowed-hosts: {e}")))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let sign_in_burst = match sign_in_burst {
        Some(burst) => burst.parse().map_err(|_| format!("invalid sign-in burst {burst}"))?,
        None => lucia_demo::DEFAULT_SIGN_IN_BURST,
    };
    let hashing_cgroup = match hashing_cgroup {
        Some(dir) => Some(lucia::HashingCgroup::create(&dir).map_err(|e| format!("--hashing-cgroup: {e}"))?),
        None => None,
    };
    let oauth_providers = lucia_demo::oauth::ProviderSetting::from_env(env)?;
    let defaults = Config::default();
    let config = Config {
        database_url,
        redis_url,
        public_origin,
        allowed_hosts,
        production,
        lucia_v2_compat,
        trusted_proxy_header,
        sign_in_burst,
        smtp_url,
        mail_dir: mail_dir.unwrap_or(defaults.mail_dir.clone()),
        mail_from: mail_from.unwrap_or(defaults.mail_from.clone()),
        oauth_providers,
        oauth_cookie_key: env("OAUTH_COOKIE_KEY"),
        totp_key,
        totp_key_file,
        passkey_origin: Some(passkey_origin),
        passkey_rp_id,
        hashing_cgroup,
        ..defaults
    };
    Ok(Some(Options { host, port, config }))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> ExitCode {
    let level = std::env::var("RUST_LOG").ok().and_then(|l| l.parse().ok()).unwrap_or(tracing::Level::INFO);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_max_level(level).with_ansi(ansi).with_writer(std::io::stderr).init();

    let options = match parse(std::env::args()) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("lucia-demo: {message}");
            return ExitCode::from(2);
        }
    };
    let demo = match lucia_demo::build(&options.config).await {
        Ok(demo) => demo,
        Err(error) => {
            let config = &options.config;
            let mut error = redact_password_in(&error.to_string(), &config.database_url);
            for url in config.redis_url.iter().chain(&config.smtp_url) {
                error = redact_password_in(&error, url);
            }
            let redis = config.redis_url.as_deref().map(redact_database_url);
            tracing::error!(%error, database = %redact_database_url(&config.database_url), redis, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind((options.host.as_str(), options.port)).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, host = %options.host, port = options.port, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let passkey_origin = options.config.passkey_origin.as_ref().map(|origin| origin.origin().ascii_serialization());
    match listener.local_addr() {
        Ok(address) => tracing::info!(
            database = %redact_database_url(&options.config.database_url),
            sessions = %options.config.redis_url.as_deref().map_or("in the database".to_owned(), redact_database_url),
            lucia_v2_compat = options.config.lucia_v2_compat,
            trusted_proxy_header = options.config.trusted_proxy_header.as_deref(),
            sign_in_burst = options.config.sign_in_burst,
            passkey_origin = passkey_origin.as_deref(),
            mail = %demo.mails.folder().map_or_else(
                || format!("SMTP {}", options.config.smtp_url.as_deref().map_or_else(String::new, redact_database_url)),
                |folder| format!("written to {} (no --smtp-url)", folder.display()),
            ),
            "listening on http://{address}"
        ),
        Err(error) => tracing::warn!(%error, "listening on an unknown address"),
    }
    if let Err(error) = lucia_demo::serve(listener, demo, shutdown_signal()).await {
        tracing::error!(%error, "server failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        std::iter::once("lucia-demo".to_owned()).chain(list.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn a_hashing_cgroup_that_cannot_be_made_stops_the_start() {
        let error = parse(args(&["--hashing-cgroup", "/nonexistent/lucia-demo-hashing"])).err().expect("refused");
        assert!(error.starts_with("--hashing-cgroup: /nonexistent/lucia-demo-hashing"), "{error}");
    }

    #[test]
    fn a_hashing_cgroup_is_taken_from_the_command_line() {
        // A directory shaped like a cgroup v1 `cpu` cgroup; `create` sets its cpu.idle.
        let dir = std::env::temp_dir().join(format!("lucia-demo-cgroup-{}", lucia::generate_random_string(8)));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("tasks"), "").unwrap();
        std::fs::write(dir.join("cpu.idle"), "0").unwrap();
        let options = parse(args(&["--hashing-cgroup", dir.to_str().unwrap()])).unwrap().expect("options");
        assert!(options.config.hashing_cgroup.is_some());
        assert_eq!(std::fs::read_to_string(dir.join("cpu.idle")).unwrap(), "1");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
