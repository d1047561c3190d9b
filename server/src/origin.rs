//! Origin checks: a site's `allowed_origins` are exact origins
//! (`https://app.example.com`) or patterns with one leading wildcard label
//! (`https://*.example.com`). `null` (sandboxed frames, `file:` pages) is never allowed
//! by a pattern, and only by an exact `"null"` entry.

/// Whether `origin` is allowed by `allowed` (an empty list allows every origin).
pub fn allowed(origin: &str, allowed: &[String]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    allowed.iter().any(|pattern| matches(origin, pattern))
}

fn matches(origin: &str, pattern: &str) -> bool {
    if pattern == "*" {
        return origin != "null";
    }
    if let Some((scheme, host)) = pattern.split_once("://*.") {
        if origin == "null" {
            return false;
        }
        let Some(rest) = origin
            .strip_prefix(scheme)
            .and_then(|r| r.strip_prefix("://"))
        else {
            return false;
        };
        // at least one label before the suffix: `a.example.com` for `*.example.com`
        return rest
            .strip_suffix(host)
            .and_then(|p| p.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('/'));
    }
    origin.eq_ignore_ascii_case(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_wildcard_and_null() {
        let l = list(&["https://app.example.com", "https://*.example.org"]);
        assert!(allowed("https://app.example.com", &l));
        assert!(!allowed("http://app.example.com", &l));
        assert!(allowed("https://a.b.example.org", &l));
        assert!(!allowed("https://example.org", &l));
        assert!(!allowed("https://evilexample.org", &l));
        assert!(!allowed("null", &l));
        assert!(!allowed("null", &list(&["*"])));
        assert!(allowed("null", &list(&["null"])));
        assert!(allowed("anything", &[]));
    }
}
