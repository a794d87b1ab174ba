//! Constant lookup by name through the C ABI: polysock_constant_lookup
//! must agree with a walk of the table (polysock_constant_at), refuse an
//! unknown name with ENOENT, and refuse NULL and out-of-range indexes with
//! EINVAL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polysock::ffi::constants::{
    polysock_constant_at, polysock_constant_count, polysock_constant_lookup,
};
use polysock_fuzz::{Input, expect_code, init, resolver_guard};
use std::ffi::{CStr, CString, c_char};
use std::sync::OnceLock;

resolver_guard!();

/// The table as polysock_constant_at walks it.
fn table() -> &'static Vec<(Vec<u8>, i64)> {
    static T: OnceLock<Vec<(Vec<u8>, i64)>> = OnceLock::new();
    T.get_or_init(|| {
        (0..polysock_constant_count())
            .map(|i| {
                let (mut name, mut value) = (std::ptr::null(), 0);
                assert_eq!(polysock_constant_at(i, &mut name, &mut value), 0);
                // SAFETY: the table's names are static C strings.
                (unsafe { CStr::from_ptr(name) }.to_bytes().to_vec(), value)
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    init();
    let mut input = Input(data);
    let choice = input.byte();
    let t = table();
    let mut name_bytes = input.rest().to_vec();
    if choice & 1 == 1 && !t.is_empty() {
        // Start from a real name, then the fuzzer's edits.
        let (real, _) = &t[usize::from(choice >> 1) * 7 % t.len()];
        name_bytes = [real.as_slice(), &name_bytes].concat();
    }
    let Ok(name) = CString::new(name_bytes) else {
        return;
    };
    let mut value = i64::MIN;
    let rc = polysock_constant_lookup(name.as_ptr(), &mut value);
    let want = t.iter().find(|(n, _)| n.as_slice() == name.as_bytes());
    match (want, std::str::from_utf8(name.as_bytes())) {
        (Some(&(_, v)), _) => assert_eq!((rc, value), (0, v), "{name:?}"),
        (None, Ok(_)) => {
            expect_code("constant_lookup", rc.into(), libc::ENOENT);
            assert_eq!(value, i64::MIN, "output written on failure");
        }
        (None, Err(_)) => expect_code("constant_lookup (not UTF-8)", rc.into(), libc::EINVAL),
    }
    expect_code(
        "constant_lookup NULL name",
        polysock_constant_lookup(std::ptr::null(), &mut value).into(),
        libc::EINVAL,
    );
    expect_code(
        "constant_lookup NULL value",
        polysock_constant_lookup(name.as_ptr(), std::ptr::null_mut()).into(),
        libc::EINVAL,
    );

    let index = i64::from_le_bytes(
        data.get(..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or([0; 8]),
    );
    let (mut n, mut v): (*const c_char, i64) = (std::ptr::null(), 0);
    let rc = polysock_constant_at(index, &mut n, &mut v);
    match usize::try_from(index).ok().and_then(|i| t.get(i)) {
        // SAFETY: on success n is a static C string.
        Some((name, value)) => assert_eq!(
            (rc, unsafe { CStr::from_ptr(n) }.to_bytes(), v),
            (0, &name[..], *value)
        ),
        None => expect_code("constant_at", rc.into(), libc::EINVAL),
    }
});
