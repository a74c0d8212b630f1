//! Issue 17: every series whose labels are known in advance exists, at 0,
//! from the first scrape, before any traffic (Prometheus' "avoid missing
//! metrics": `rate()` and alerts need the series to be there). Checked
//! against the documentation itself: the table of series in the README
//! (the crate docs), the `reason` tables of `src/rejection/mod.rs` and
//! `src/websocket/rejection.rs`, and the README's list of reasons, read
//! from their source so that the docs and the registration cannot drift.
#![cfg(feature = "metrics")]

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;

use http::request::Parts;
use http::{Request, Response};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;
use tower::{service_fn, Layer};
use tower_upgrade::rejection::Rejection;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{Accepted, Offer, Protocol, UpgradeLayer, Upgraded};

/// A protocol of the user's own, with a refusal of its own.
struct Line;

impl Protocol for Line {
    fn accept(&self, _: &Parts, _: &Offer<'_>) -> Result<Accepted, Rejection> {
        Ok(Accepted::new())
    }

    fn rejection_labels(&self) -> &'static [&'static str] {
        &["line_too_long"]
    }
}

/// One documented series: its kind, and for each label the values it
/// takes (`None`: values that depend on the configuration).
struct Documented {
    kind: MetricKind,
    labels: BTreeMap<String, Option<BTreeSet<String>>>,
}

/// The words in backticks of `text`.
fn quoted(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The README's table "Every series the crate emits".
fn readme_series() -> BTreeMap<String, Documented> {
    let readme = include_str!("../README.md");
    let table = readme
        .split_once("Every series the crate emits:")
        .expect("the README's table of series")
        .1;
    let mut series = BTreeMap::new();
    for row in table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter(|l| l.starts_with("| `"))
    {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (name, kind, labels) = (&quoted(cells[1])[0], cells[2], cells[3]);
        let kind = match kind {
            "counter" => MetricKind::Counter,
            "gauge" => MetricKind::Gauge,
            "histogram" => MetricKind::Histogram,
            other => panic!("{name}: unknown type {other:?}"),
        };
        let labels = match labels.split_once(" = ") {
            // `kind` = `a`, `b`: a fixed set of values.
            Some((key, values)) => BTreeMap::from([(
                quoted(key)[0].clone(),
                Some(quoted(values).into_iter().collect()),
            )]),
            None => quoted(labels).into_iter().map(|k| (k, None)).collect(),
        };
        series.insert(name.clone(), Documented { kind, labels });
    }
    assert!(
        series.len() >= 10,
        "the table was not found whole: {:?}",
        series.keys()
    );
    series
}

/// The `reason` column of a table of causes in a module's docs: the rows
/// that give one label (not `ProtocolRejection`'s, whose label is its own).
fn documented_reasons(source: &str) -> BTreeSet<String> {
    source
        .lines()
        .filter_map(|l| l.strip_prefix("//! | ["))
        .filter_map(|row| {
            let cell = row.split('|').nth(2)?.trim();
            let label = cell.strip_prefix('`')?.strip_suffix('`')?;
            (!label.contains('`')).then(|| label.to_owned())
        })
        .collect()
}

/// The README's sentence "`reason` is one of ...": the labels, not what
/// the parentheses say about them.
fn readme_reasons() -> BTreeSet<String> {
    let readme = include_str!("../README.md");
    let sentence = readme
        .split_once("`reason` is one of")
        .expect("the README's list of reasons")
        .1
        .split("\n\n")
        .next()
        .unwrap();
    let mut plain = String::new();
    let mut depth = 0;
    for c in sentence.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    quoted(&plain)
        .into_iter()
        .filter(|w| w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .collect()
}

#[test]
fn every_documented_series_is_there_at_zero_before_any_traffic() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let done = |_: Upgraded| async { Ok::<_, Infallible>(()) };
    let layer = UpgradeLayer::new()
        .websocket(WebSocketConfig::new(), service_fn(done))
        .register("line/1", Line, service_fn(done))
        .require_upgrade(true);
    let _service = layer.layer(service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    // A second service of the same configuration registers nothing twice.
    let _again = layer.layer(service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));

    // The first scrape: name -> (kind, [labels]), every value 0.
    let mut scraped: BTreeMap<String, (MetricKind, Vec<BTreeMap<String, String>>)> =
        BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let (kind, key) = key.into_parts();
        let name = key.name().to_owned();
        let labels: BTreeMap<String, String> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let zero = match &value {
            DebugValue::Counter(n) => *n == 0,
            DebugValue::Gauge(g) => g.into_inner() == 0.0,
            DebugValue::Histogram(samples) => samples.is_empty(),
        };
        assert!(zero, "{name}{labels:?} is {value:?} before any traffic");
        let entry = scraped.entry(name).or_insert((kind, Vec::new()));
        assert_eq!(entry.0, kind);
        entry.1.push(labels);
    }

    let documented = readme_series();
    assert_eq!(
        scraped.keys().collect::<Vec<_>>(),
        documented.keys().collect::<Vec<_>>(),
        "the series at the first scrape are not those the README lists"
    );

    let core = documented_reasons(include_str!("../src/rejection/mod.rs"));
    let websocket = documented_reasons(include_str!("../src/websocket/rejection.rs"));
    assert!(
        core.contains("upgrade_required") && core.len() >= 10,
        "{core:?}"
    );
    assert!(websocket.contains("forbidden_origin"), "{websocket:?}");
    let mut reasons_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (protocol, own) in [
        ("websocket", websocket.clone()),
        ("line/1", BTreeSet::from(["line_too_long".to_owned()])),
    ] {
        let reasons = core
            .iter()
            .filter(|r| *r != "upgrade_required")
            .cloned()
            .chain(own)
            .collect();
        reasons_of.insert(protocol, reasons);
    }
    reasons_of.insert("none", BTreeSet::from(["upgrade_required".to_owned()]));

    for (name, doc) in &documented {
        let (kind, series) = &scraped[name];
        assert_eq!(kind, &doc.kind, "{name}");
        let keys: BTreeSet<&String> = doc.labels.keys().collect();
        for labels in series {
            assert_eq!(labels.keys().collect::<BTreeSet<_>>(), keys, "{name}");
        }
        // Every combination the docs make known in advance, and no other.
        let expected: BTreeSet<BTreeMap<String, String>> = if keys.contains(&"reason".to_owned()) {
            reasons_of
                .iter()
                .flat_map(|(protocol, reasons)| {
                    reasons.iter().map(move |reason| {
                        BTreeMap::from([
                            ("protocol".to_owned(), protocol.to_string()),
                            ("reason".to_owned(), reason.clone()),
                        ])
                    })
                })
                .collect()
        } else if keys.contains(&"protocol".to_owned()) {
            ["websocket", "line/1"]
                .into_iter()
                .map(|p| BTreeMap::from([("protocol".to_owned(), p.to_owned())]))
                .collect()
        } else {
            match doc.labels.iter().next() {
                None => BTreeSet::from([BTreeMap::new()]),
                Some((key, values)) => values
                    .as_ref()
                    .unwrap_or_else(|| panic!("{name}: {key} has no fixed values"))
                    .iter()
                    .map(|v| BTreeMap::from([(key.clone(), v.clone())]))
                    .collect(),
            }
        };
        let got: BTreeSet<BTreeMap<String, String>> = series.iter().cloned().collect();
        assert_eq!(got.len(), series.len(), "{name}: a series registered twice");
        assert_eq!(got, expected, "{name}");
    }

    // The README's own list of reasons: each one is there.
    let known: BTreeSet<String> = core.union(&websocket).cloned().collect();
    let readme = readme_reasons();
    assert!(
        readme.len() >= 10,
        "the README's list was not found whole: {readme:?}"
    );
    for reason in readme {
        assert!(
            known.contains(&reason),
            "the README lists {reason:?}, no table of causes does"
        );
    }
}
