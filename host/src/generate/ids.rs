//! Unique, realistic-looking ids (resident ids, credit codes, plates) from counters: a bijection
//! scrambles the counter so ids look random but never collide.

/// Issues ids for one generated dataset.
pub struct Ids {
    person: u64,
    org: u64,
    plate: u64,
    salt: u64,
}

const PLATE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";

impl Ids {
    /// Counters salted by the seed.
    pub fn new(seed: u64) -> Self {
        Ids { person: 0, org: 0, plate: 0, salt: seed % 1_000_003 }
    }

    /// Multiplying by a unit mod `m` is a bijection on [0, m): distinct counters, distinct ids.
    fn scramble(n: u64, m: u64) -> u64 {
        ((n as u128 * 7_919_000_003u128) % m as u128) as u64
    }

    /// An 18-character resident-id-like person id.
    pub fn person(&mut self) -> String {
        self.person += 1;
        format!("3301{:014}", Self::scramble(self.person + self.salt, 100_000_000_000_000))
    }

    /// An 18-character unified-social-credit-code-like organisation id.
    pub fn org(&mut self) -> String {
        self.org += 1;
        format!("913301{:012}", Self::scramble(self.org + self.salt, 1_000_000_000_000))
    }

    /// A plate like 浙A·K3P9Q.
    pub fn plate(&mut self) -> String {
        self.plate += 1;
        let base = PLATE_ALPHABET.len() as u64;
        let mut n = Self::scramble(self.plate + self.salt, base.pow(6));
        let city = (b'A' + (n % 12) as u8) as char;
        n /= 12;
        let mut tail = String::new();
        for _ in 0..5 {
            tail.push(PLATE_ALPHABET[(n % base) as usize] as char);
            n /= base;
        }
        format!("浙{city}{tail}")
    }
}
