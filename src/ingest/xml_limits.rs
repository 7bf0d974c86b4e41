//! A linear pre-scan that bounds an XML document's shape before a DOM parser sees it.
//!
//! roxmltree checks each new attribute against the element's earlier ones for duplicates,
//! so one element with n attributes costs n² (200,000 attributes in 1.6 MB took a minute).
//! Counting elements, attributes per element and depth in one pass over the text refuses
//! such a document in microseconds, with a message that names the limit. The scan only
//! counts; anything it cannot make sense of (unterminated markup) is left to the parser,
//! which refuses it anyway.

/// The largest document shape accepted.
#[derive(Debug, Clone, Copy)]
pub struct XmlLimits {
    /// Bytes of the whole document.
    pub max_bytes: usize,
    /// Elements in the whole document.
    pub max_elements: usize,
    /// Attributes (namespace declarations included) on any one element.
    pub max_attributes: usize,
    /// Elements nested inside each other.
    pub max_depth: usize,
}

/// `Err(what is over which limit)` when `text` exceeds `limits`.
pub fn check(text: &str, limits: &XmlLimits) -> Result<(), String> {
    if text.len() > limits.max_bytes {
        return Err(format!(
            "document of {} bytes is over the {} byte limit",
            text.len(),
            limits.max_bytes
        ));
    }
    let b = text.as_bytes();
    let (mut elements, mut depth) = (0usize, 0usize);
    let mut i = 0;
    while let Some(lt) = find(b, i, b"<") {
        let rest = &b[lt..];
        // Markup whose content is not elements: skipped whole.
        let skip_to = [
            (&b"<!--"[..], &b"-->"[..]),
            (b"<![CDATA[", b"]]>"),
            (b"<?", b"?>"),
            (b"<!", b">"),
        ]
        .iter()
        .find(|(open, _)| rest.starts_with(open))
        .map(|(open, close)| find(b, lt + open.len(), close).map(|at| at + close.len()));
        if let Some(end) = skip_to {
            match end {
                Some(end) => i = end,
                None => return Ok(()),
            }
            continue;
        }
        if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            match find(b, lt, b">") {
                Some(gt) => i = gt + 1,
                None => return Ok(()),
            }
            continue;
        }
        // A start tag: attributes are the `=` signs outside quoted values.
        elements += 1;
        if elements > limits.max_elements {
            return Err(format!(
                "more than {} elements (a GB/T 28181 or ONVIF document has far fewer)",
                limits.max_elements
            ));
        }
        let (mut attributes, mut quote, mut j) = (0usize, None, lt + 1);
        let end = loop {
            let Some(&c) = b.get(j) else {
                return Ok(());
            };
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(c),
                (None, b'=') => {
                    attributes += 1;
                    if attributes > limits.max_attributes {
                        return Err(format!(
                            "an element with more than {} attributes",
                            limits.max_attributes
                        ));
                    }
                }
                (None, b'>') => break j,
                (None, _) => {}
            }
            j += 1;
        };
        if b[end - 1] != b'/' {
            depth += 1;
            if depth > limits.max_depth {
                return Err(format!(
                    "elements nested more than {} deep",
                    limits.max_depth
                ));
            }
        }
        i = end + 1;
    }
    Ok(())
}

/// Index of the first `needle` in `hay` at or after `from`.
fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: XmlLimits = XmlLimits {
        max_bytes: 4096,
        max_elements: 8,
        max_attributes: 3,
        max_depth: 3,
    };

    #[test]
    fn an_ordinary_document_passes() {
        let xml = r#"<?xml version="1.0" encoding="GB2312"?>
<!-- a comment with <fake a="1" b="2" c="3" d="4"> -->
<Notify xmlns="urn:x" a='1' b="x=y">
  <CmdType>Alarm</CmdType><Info><AlarmType>2</AlarmType></Info>
  <Empty/><![CDATA[<x a="1" b="1" c="1" d="1">]]>
</Notify>"#;
        assert_eq!(check(xml, &LIMITS), Ok(()));
    }

    #[test]
    fn each_limit_is_named() {
        let many_attrs = r#"<Notify a="1" b="1" c="1" d="1"/>"#;
        assert!(check(many_attrs, &LIMITS)
            .unwrap_err()
            .contains("3 attributes"));
        let many = format!("<a>{}</a>", "<b/>".repeat(8));
        assert!(check(&many, &LIMITS).unwrap_err().contains("8 elements"));
        let deep = "<a><b><c><d></d></c></b></a>";
        assert!(check(deep, &LIMITS).unwrap_err().contains("3 deep"));
        // Siblings do not add up to depth.
        assert_eq!(check("<a><b></b><b></b><b/></a>", &LIMITS), Ok(()));
        let big = " ".repeat(4097);
        assert!(check(&big, &LIMITS).unwrap_err().contains("4096 byte"));
    }

    #[test]
    fn the_reported_attack_is_refused_at_once() {
        let attrs: String = (0..200_000).map(|i| format!(" a{i}=\"1\"")).collect();
        let xml = format!("<Notify{attrs}/>");
        let limits = XmlLimits {
            max_bytes: usize::MAX,
            ..LIMITS
        };
        assert!(check(&xml, &limits).unwrap_err().contains("attributes"));
    }

    #[test]
    fn unterminated_markup_is_left_to_the_parser() {
        for xml in ["<a b=\"1", "<!-- x", "<a></a", "<", "<?xml"] {
            assert_eq!(check(xml, &LIMITS), Ok(()), "{xml}");
        }
    }
}
