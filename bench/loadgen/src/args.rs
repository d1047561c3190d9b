//! `--key value` arguments.

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed `--key value` pairs.
pub struct Args(HashMap<String, String>);

impl Args {
    pub fn parse(argv: &[String]) -> Result<Args, String> {
        let mut map = HashMap::new();
        let mut it = argv.iter();
        while let Some(k) = it.next() {
            let Some(key) = k.strip_prefix("--") else {
                return Err(format!("expected --option, got {k:?}"));
            };
            let v = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_string(), v.clone());
        }
        Ok(Args(map))
    }

    pub fn str(&self, key: &str) -> Result<String, String> {
        self.0
            .get(key)
            .cloned()
            .ok_or_else(|| format!("missing --{key}"))
    }

    pub fn str_or(&self, key: &str, default: &str) -> String {
        self.0
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    pub fn get<T: FromStr>(&self, key: &str) -> Result<T, String> {
        let v = self.str(key)?;
        v.parse()
            .map_err(|_| format!("--{key}: cannot parse {v:?}"))
    }

    pub fn get_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key}: cannot parse {v:?}")),
        }
    }
}
