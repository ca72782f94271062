//! `ironclaw proxy serve`: the egress proxy as a standalone command, for operators
//! trying rules and for tests.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ironclaw_audit::AuditLog;
use ironclaw_proxy::{JobGrant, NetworkAllowlist, Preset, Proxy, ProxyConfig, parse_extra_domains};

use crate::home::Home;

/// The egress proxy.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    #[command(subcommand)]
    command: ProxyCommand,
}

#[derive(Debug, Subcommand)]
enum ProxyCommand {
    /// Serve the proxy in the foreground, auditing to the home's log. Requests need no
    /// token: they act as one anonymous identity whose allowlist is the --allow list.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:3128", value_name = "ADDR")]
    listen: SocketAddr,
    /// A host the proxy may reach, `HOST[:PORT]` or `*.suffix[:PORT]`; repeatable.
    /// Without a port: 443 for CONNECT, 80 for plain HTTP. None: everything is denied.
    #[arg(long = "allow", value_name = "HOST[:PORT]")]
    allow: Vec<String>,
    /// Also allow a preset group: llm-providers, package-registries, version-control.
    #[arg(long = "preset", value_name = "NAME")]
    presets: Vec<String>,
    /// Extra domains, comma or space separated (the sandbox's SANDBOX_EXTRA_DOMAINS).
    #[arg(
        long = "extra-domains",
        env = "SANDBOX_EXTRA_DOMAINS",
        value_name = "LIST"
    )]
    extra_domains: Option<String>,
    /// Requests (and tunnels opened) per minute the anonymous identity may make;
    /// 0 means no limit.
    #[arg(long, default_value_t = ironclaw_proxy::Limits::default().requests_per_minute_per_job, value_name = "N")]
    requests_per_minute: u32,
    /// CONNECT tunnels the anonymous identity may hold open at once.
    #[arg(long, default_value_t = ironclaw_proxy::Limits::default().max_tunnels_per_job, value_name = "N")]
    max_tunnels: usize,
    /// Requests and tunnels the anonymous identity may have in flight at once.
    #[arg(long, default_value_t = ironclaw_proxy::Limits::default().max_concurrent_requests_per_job, value_name = "N")]
    max_concurrent: usize,
    /// Turn off the SSRF address rules so loopback and private upstreams are
    /// reachable. For tests only: it lets clients reach services on this host.
    #[arg(long)]
    allow_private_for_testing: bool,
    /// Threads serving connections, each with the connections it was given (default:
    /// one per CPU).
    #[arg(long, value_name = "N")]
    threads: Option<NonZeroUsize>,
}

pub(crate) fn run(home: &Home, args: ProxyArgs) -> Result<ExitCode> {
    match args.command {
        ProxyCommand::Serve(serve) => run_serve(home, serve),
    }
}

fn run_serve(home: &Home, args: ServeArgs) -> Result<ExitCode> {
    let mut grant = JobGrant::new("anonymous");
    grant.network = NetworkAllowlist::new(&args.allow).context("invalid --allow")?;
    let mut config = ProxyConfig {
        listen: args.listen,
        limits: ironclaw_proxy::Limits {
            requests_per_minute_per_job: args.requests_per_minute,
            max_tunnels_per_job: args.max_tunnels,
            max_concurrent_requests_per_job: args.max_concurrent,
            ..ironclaw_proxy::Limits::default()
        },
        allow_private_addresses_unsafe: args.allow_private_for_testing,
        ..ProxyConfig::default()
    };
    if let Some(extra) = &args.extra_domains {
        config.global_allow = parse_extra_domains(extra);
    }
    let layout = ironclaw_policy::HomeLayout::new(home.root());
    let audit_config = crate::config::audit_config(&layout)?;
    let audit_path = audit_config.path().to_path_buf();
    let audit = AuditLog::open(audit_config)
        .with_context(|| format!("cannot open the audit log {}", audit_path.display()))?;
    for warning in audit.warnings() {
        eprintln!("ironclaw: warning: {warning}");
    }
    let mut builder = Proxy::builder(audit).config(config).anonymous(grant);
    for name in &args.presets {
        let Some(preset) = Preset::parse(name) else {
            bail!(
                "unknown preset {name:?}: use llm-providers, package-registries or version-control"
            );
        };
        builder = builder.preset(preset);
    }
    let proxy = builder.build()?;
    if args.allow_private_for_testing {
        eprintln!("ironclaw: warning: --allow-private-for-testing: SSRF address rules are OFF");
    }
    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .unwrap_or(NonZeroUsize::MIN);
    let listener = proxy.bind_std()?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // Scripts wait for this line to know the proxy is up and where.
    println!("listening on {addr}");
    let interrupted = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            eprintln!("ironclaw: warning: cannot wait for Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    proxy.serve_on_threads(listener, threads, interrupted)?;
    Ok(ExitCode::SUCCESS)
}
