//! The `sigil` binary: parses the command line and hands over to [`cli`].

mod cli;

/// jemalloc instead of glibc's malloc: a grant allocates on every layer it crosses (the
/// request, the JSON, the hook event and what the hooks return), from several threads at once,
/// and glibc's arenas spent a tenth of a grant's CPU on it (docs/performance.md measures the
/// change). Unlike an allocator that reserves its arenas up front, it runs under the compile
/// worker's address-space limit (`sigil_hooks::compile`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
