//! A throwaway PostgreSQL cluster for the test suite: `initdb` in a temporary directory,
//! started on a free loopback port, stopped and deleted when dropped.
//!
//! `initdb` refuses to run as root, so when we are root the cluster is created and run
//! as the `postgres` system user, in a directory that user owns.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A running throwaway cluster. Dropping it stops the server and removes its files.
#[derive(Debug)]
pub(crate) struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres_user: bool,
    port: u16,
}

impl Cluster {
    /// The libpq-style connection string tests use (`IRONCLAW_TEST_PG`).
    pub(crate) fn connection_string(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// Creates and starts a cluster.
    pub(crate) fn start() -> Result<Self> {
        let bin = find_bin_dir()?;
        let as_postgres_user = is_root();
        let dir = std::env::temp_dir().join(format!("ironclaw-ci-pg-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        if as_postgres_user {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .context("cannot run chown")?;
            if !status.success() {
                bail!("cannot give {} to the postgres user", dir.display());
            }
        }
        let port = free_port()?;
        let cluster = Self {
            dir,
            bin,
            as_postgres_user,
            port,
        };
        let data = cluster.dir.join("data");
        let log = cluster.dir.join("server.log");
        cluster.pg(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            cluster.dir.display()
        );
        cluster.pg(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        )?;
        // If anything above failed, Drop has already stopped and removed the cluster.
        cluster.wait_ready()?;
        Ok(cluster)
    }

    fn pg(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command.args(args).current_dir(&self.dir);
        let output = command
            .output()
            .with_context(|| format!("cannot run {}", program.display()))?;
        if !output.status.success() {
            bail!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("postgres did not become ready on port {}", self.port);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if data.exists() {
            let _ = self.pg(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-m".as_ref(),
                    "immediate".as_ref(),
                    "-w".as_ref(),
                    "stop".as_ref(),
                ],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory holding `initdb` and `pg_ctl`: Debian keeps them out of PATH, under
/// `/usr/lib/postgresql/<major>/bin`; the newest major wins.
pub(crate) fn find_bin_dir() -> Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    majors.sort();
    majors
        .pop()
        .map(|(_, bin)| bin)
        .context("no PostgreSQL server found under /usr/lib/postgresql (install `postgresql`)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}
