#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| est_fuzz_checks::est_answer(data));
