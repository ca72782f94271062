//! Inert stubs of the WASI interfaces the Rust standard library imports.
//!
//! A component built by Rust for `wasm32-wasip2` imports `wasi:cli` (environment,
//! exit, stdio, terminals) and `wasi:io` (streams, poll, error) even when it never
//! uses them. The host links stubs instead of a real WASI implementation, so
//! there is no ambient authority to misconfigure: the environment and the
//! arguments are empty, there is no working directory, stdin is closed, stdout
//! is discarded, stderr (a panic message) is kept, capped, for the host's log,
//! there are no terminals, and `exit` stops the tool. Filesystem, sockets,
//! clocks and random are not linked at all: a component that imports them
//! fails to load with an error naming the import.

use wasmtime::component::{HasSelf, Linker, Resource};

use crate::state::{HostState, MAX_STDERR};

#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::all
)]
mod generated {
    wasmtime::component::bindgen!({
        path: "wit-wasi",
        world: "ironclaw:wasi-stubs/stubs",
        imports: {
            "wasi:cli/exit.exit": trappable,
            "wasi:cli/exit.exit-with-code": trappable,
        },
    });
}

use generated::wasi::cli::{
    environment, exit, stderr, stdin, stdout, terminal_input, terminal_output, terminal_stderr,
    terminal_stdin, terminal_stdout,
};
use generated::wasi::io::error::Error as IoError;
use generated::wasi::io::poll::Pollable;
use generated::wasi::io::streams::{InputStream, OutputStream, StreamError};
use generated::wasi::io::{error, poll, streams};

/// Resource representations: the stubs need no table.
const STDIN: u32 = 0;
const STDOUT: u32 = 1;
const STDERR: u32 = 2;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    generated::Stubs::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

/// `exit` from a tool: it stops, and the call reports a trap.
#[derive(Debug)]
struct ToolExited;

impl std::fmt::Display for ToolExited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the tool called wasi exit")
    }
}

impl std::error::Error for ToolExited {}

impl environment::Host for HostState {
    fn get_environment(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn get_arguments(&mut self) -> Vec<String> {
        Vec::new()
    }

    fn initial_cwd(&mut self) -> Option<String> {
        None
    }
}

impl exit::Host for HostState {
    fn exit(&mut self, _status: Result<(), ()>) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(ToolExited))
    }

    fn exit_with_code(&mut self, _code: u8) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(ToolExited))
    }
}

impl error::Host for HostState {}

impl error::HostError for HostState {
    fn to_debug_string(&mut self, _this: Resource<IoError>) -> String {
        String::new()
    }

    fn drop(&mut self, _rep: Resource<IoError>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl poll::Host for HostState {
    fn poll(&mut self, pollables: Vec<Resource<Pollable>>) -> Vec<u32> {
        // Every stub stream is always ready.
        (0..u32::try_from(pollables.len()).unwrap_or(u32::MAX)).collect()
    }
}

impl poll::HostPollable for HostState {
    fn ready(&mut self, _this: Resource<Pollable>) -> bool {
        true
    }

    fn block(&mut self, _this: Resource<Pollable>) {}

    fn drop(&mut self, _rep: Resource<Pollable>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl HostState {
    fn write_out(&mut self, stream: &Resource<OutputStream>, bytes: &[u8]) {
        if stream.rep() == STDERR {
            let room = MAX_STDERR.saturating_sub(self.stderr.len());
            self.stderr
                .extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
}

impl streams::Host for HostState {}

impl streams::HostInputStream for HostState {
    fn read(&mut self, _this: Resource<InputStream>, _len: u64) -> Result<Vec<u8>, StreamError> {
        Err(StreamError::Closed)
    }

    fn blocking_read(
        &mut self,
        _this: Resource<InputStream>,
        _len: u64,
    ) -> Result<Vec<u8>, StreamError> {
        Err(StreamError::Closed)
    }

    fn skip(&mut self, _this: Resource<InputStream>, _len: u64) -> Result<u64, StreamError> {
        Err(StreamError::Closed)
    }

    fn blocking_skip(
        &mut self,
        _this: Resource<InputStream>,
        _len: u64,
    ) -> Result<u64, StreamError> {
        Err(StreamError::Closed)
    }

    fn subscribe(&mut self, _this: Resource<InputStream>) -> Resource<Pollable> {
        Resource::new_own(0)
    }

    fn drop(&mut self, _rep: Resource<InputStream>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl streams::HostOutputStream for HostState {
    fn check_write(&mut self, _this: Resource<OutputStream>) -> Result<u64, StreamError> {
        Ok(4096)
    }

    fn write(
        &mut self,
        this: Resource<OutputStream>,
        contents: Vec<u8>,
    ) -> Result<(), StreamError> {
        self.write_out(&this, &contents);
        Ok(())
    }

    fn blocking_write_and_flush(
        &mut self,
        this: Resource<OutputStream>,
        contents: Vec<u8>,
    ) -> Result<(), StreamError> {
        self.write_out(&this, &contents);
        Ok(())
    }

    fn flush(&mut self, _this: Resource<OutputStream>) -> Result<(), StreamError> {
        Ok(())
    }

    fn blocking_flush(&mut self, _this: Resource<OutputStream>) -> Result<(), StreamError> {
        Ok(())
    }

    fn subscribe(&mut self, _this: Resource<OutputStream>) -> Resource<Pollable> {
        Resource::new_own(0)
    }

    fn write_zeroes(
        &mut self,
        _this: Resource<OutputStream>,
        _len: u64,
    ) -> Result<(), StreamError> {
        Ok(())
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        _this: Resource<OutputStream>,
        _len: u64,
    ) -> Result<(), StreamError> {
        Ok(())
    }

    fn splice(
        &mut self,
        _this: Resource<OutputStream>,
        _src: Resource<InputStream>,
        _len: u64,
    ) -> Result<u64, StreamError> {
        Err(StreamError::Closed)
    }

    fn blocking_splice(
        &mut self,
        _this: Resource<OutputStream>,
        _src: Resource<InputStream>,
        _len: u64,
    ) -> Result<u64, StreamError> {
        Err(StreamError::Closed)
    }

    fn drop(&mut self, _rep: Resource<OutputStream>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl stdin::Host for HostState {
    fn get_stdin(&mut self) -> Resource<InputStream> {
        Resource::new_own(STDIN)
    }
}

impl stdout::Host for HostState {
    fn get_stdout(&mut self) -> Resource<OutputStream> {
        Resource::new_own(STDOUT)
    }
}

impl stderr::Host for HostState {
    fn get_stderr(&mut self) -> Resource<OutputStream> {
        Resource::new_own(STDERR)
    }
}

impl terminal_input::Host for HostState {}

impl terminal_input::HostTerminalInput for HostState {
    fn drop(&mut self, _rep: Resource<terminal_input::TerminalInput>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl terminal_output::Host for HostState {}

impl terminal_output::HostTerminalOutput for HostState {
    fn drop(&mut self, _rep: Resource<terminal_output::TerminalOutput>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl terminal_stdin::Host for HostState {
    fn get_terminal_stdin(&mut self) -> Option<Resource<terminal_input::TerminalInput>> {
        None
    }
}

impl terminal_stdout::Host for HostState {
    fn get_terminal_stdout(&mut self) -> Option<Resource<terminal_output::TerminalOutput>> {
        None
    }
}

impl terminal_stderr::Host for HostState {
    fn get_terminal_stderr(&mut self) -> Option<Resource<terminal_output::TerminalOutput>> {
        None
    }
}
