//! Random ids and Docker-style names.

/// `bytes` random bytes as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // Without the kernel's randomness no id is safe to hand out: never zeros.
    getrandom::getrandom(&mut buf).expect("random bytes from the kernel");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A Docker-style name: `adjective_surname`.
pub fn random_name() -> String {
    const ADJ: &[&str] = &[
        "brave", "calm", "clever", "eager", "fervent", "gifted", "happy", "jolly", "keen", "lucid",
        "nifty", "quirky", "serene", "sharp", "stoic", "tender", "upbeat", "vivid", "wizardly",
        "zealous",
    ];
    const NAMES: &[&str] = &[
        "babbage", "curie", "dijkstra", "euler", "fermat", "gauss", "hopper", "knuth", "lamport",
        "lovelace", "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak",
        "yalow", "zuse", "hamilton",
    ];
    let r = random_hex(2);
    let a = usize::from_str_radix(&r[..2], 16).unwrap_or(0) % ADJ.len();
    let n = usize::from_str_radix(&r[2..], 16).unwrap_or(0) % NAMES.len();
    format!("{}_{}", ADJ[a], NAMES[n])
}
