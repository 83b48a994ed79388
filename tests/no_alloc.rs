//! Proves the validators never allocate: a counting global allocator wraps the
//! system one, and every validator runs over every recorded vector (and a few
//! crafted extremes) while this thread's allocation count is watched.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use leakhound::validate;

thread_local! {
    /// Allocations made by the current thread. Const-initialised and without
    /// a destructor, so touching it from the allocator cannot itself allocate.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_allocation() {
    // During thread teardown the slot may be gone; that is not the test thread.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments and
// only adds a thread-local counter update, which does not allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: forwarded unchanged from our caller.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: forwarded unchanged from our caller.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: forwarded unchanged from our caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged from our caller.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_so_far() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Every value of every vector file, plus extremes the files do not hold.
fn inputs() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut inputs = vec![
        Vec::new(),
        vec![b'0'; 100_000],
        vec![0xff; 64],
        b"GB82WEST12345698765432".repeat(10),
    ];
    for entry in std::fs::read_dir(dir).expect("tests/vectors exists") {
        let contents = std::fs::read(entry.expect("directory entry").path()).expect("readable");
        for line in contents.split(|&byte| byte == b'\n') {
            if let Some(tab) = line.iter().rposition(|&byte| byte == b'\t') {
                inputs.push(line[..tab].to_vec());
            }
        }
    }
    inputs
}

#[test]
fn validators_do_not_allocate() {
    let inputs = inputs();
    let before = allocations_so_far();
    let mut valid = 0usize;
    for input in &inputs {
        let value = std::hint::black_box(input.as_slice());
        valid += usize::from(validate::luhn(value));
        valid += usize::from(validate::us_ssn(value).is_ok());
        valid += usize::from(validate::pl_pesel(value).is_ok());
        valid += usize::from(validate::ro_cnp(value).is_ok());
        valid += usize::from(validate::cn_ric(value).is_ok());
        valid += usize::from(validate::ir_melli(value).is_ok());
        valid += usize::from(validate::iban(value).is_ok());
    }
    let allocations = allocations_so_far() - before;
    assert_eq!(allocations, 0, "validators allocated {allocations} times");
    // Keep the work observable, and make sure the loop saw real numbers.
    assert!(valid > 1000, "only {valid} valid values among the inputs");
}
