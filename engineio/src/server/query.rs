//! Query strings, decoded the WHATWG `URLSearchParams` way (`+` is a space, `%XX` is
//! decoded, a repeated key keeps its first position and its last value).

/// Decoded query parameters in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses the query part of a URI (without the `?`).
    pub fn parse(raw: Option<&str>) -> Query {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match pairs.iter_mut().find(|(key, _)| *key == k) {
                Some(pair) => pair.1 = v.into_owned(),
                None => pairs.push((k.into_owned(), v.into_owned())),
            }
        }
        Query(pairs)
    }

    /// The value of a parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// True when the parameter is present, with any value or none (`?deny`).
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// All parameters in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_url_search_params() {
        let q = Query::parse(Some(
            "EIO=4&transport=polling&a=1&a=2&%26a=%26%3D%3Fa&s=x+y&deny",
        ));
        assert_eq!(q.get("EIO"), Some("4"));
        assert_eq!(q.get("a"), Some("2"));
        assert_eq!(q.get("&a"), Some("&=?a"));
        assert_eq!(q.get("s"), Some("x y"));
        assert!(q.contains("deny"));
        assert_eq!(q.get("deny"), Some(""));
        assert_eq!(q.pairs()[2].0, "a");
        assert_eq!(Query::parse(None).pairs().len(), 0);
    }
}
