//! The process-wide wasmtime `Engine`.
//!
//! Settings that matter for safety and speed (see ../shared/HOOKS.md for the measurements):
//! the pooling allocator with copy-on-write memory images (instantiation in microseconds),
//! fuel for a deterministic instruction budget, epoch interruption for the wall-clock
//! deadline (one ticker thread; without it deadlines never fire), a wasm stack limit well below
//! the host thread's stack (host stack exhaustion would abort the process; a wasm stack
//! overflow is a catchable trap), and no component-model async/concurrency support (not used,
//! and it costs per instantiation).

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

/// One epoch tick. Deadlines are rounded up to whole ticks.
pub const TICK: Duration = Duration::from_millis(1);

/// Engine-wide settings (the same in the server and its compile worker, or artifacts would not
/// load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Wasm stack limit, bytes (engine-wide; tenants cannot change it).
    pub max_wasm_stack: usize,
    /// Ceiling of linear memory per instance, bytes.
    pub max_memory_bytes: usize,
    /// Instances the pool holds (invocations in flight at once).
    pub pool_instances: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            max_wasm_stack: 256 * 1024,
            max_memory_bytes: 64 << 20,
            pool_instances: 256,
        }
    }
}

/// Errors building the engine.
#[derive(Debug, thiserror::Error)]
#[error("creating the wasm engine: {0}")]
pub struct EngineError(pub String);

/// The wasmtime configuration.
pub fn config(s: &EngineSettings) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(s.pool_instances)
        .total_core_instances(s.pool_instances * 4)
        .total_memories(s.pool_instances * 2)
        .total_tables(s.pool_instances * 4)
        .total_stacks(s.pool_instances)
        .max_memory_size(s.max_memory_bytes)
        .max_memories_per_component(2)
        .max_core_instances_per_component(32)
        .max_tables_per_component(8)
        .max_component_instance_size(1 << 20)
        // Reset only the pages a hook dirtied (PAGEMAP_SCAN, Linux 6.7+; ignored elsewhere) and
        // keep them mapped, instead of unmapping every page after each login: the madvise and
        // the page faults that follow were a third of a cycle.
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(64 << 10);
    let mut c = Config::new();
    c.wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(s.max_wasm_stack)
        .memory_init_cow(true)
        .concurrency_support(false)
        .cranelift_opt_level(OptLevel::Speed)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    c
}

/// Builds the engine and starts its epoch ticker (a thread that stops when the engine is
/// dropped).
pub fn build(s: &EngineSettings) -> Result<Engine, EngineError> {
    let engine = Engine::new(&config(s)).map_err(|e| EngineError(format!("{e:#}")))?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("sigil-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                match weak.upgrade() {
                    Some(e) => e.increment_epoch(),
                    None => break,
                }
            }
        })
        .map_err(|e| EngineError(e.to_string()))?;
    Ok(engine)
}

/// A hash identifying which compiled artifacts this engine can load.
pub fn compatibility_hash(engine: &Engine) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}
