//! Reading manifests: multi-document YAML, `kind: List`, warnings for what is not read.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde::de::DeserializeOwned;

use crate::error::{Error, Warning};
use crate::object::{Object, Resource, KINDS};
use crate::yaml::{get, line_of, Context, DeError, NodeDeserializer};

/// What a file holds: the objects of supported kinds, in order, and what was read past.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub objects: Vec<Object>,
    pub warnings: Vec<Warning>,
}

/// Reads the manifests of one file (`name` is only for messages).
///
/// Documents are split on `---`; empty ones are skipped and `kind: List` is expanded. A
/// field rbox does not read is a warning with its path and line, a kind it does not run is
/// skipped with a warning. YAML that does not parse, a field of the wrong type, or a
/// missing `apiVersion`/`kind` is an error. Validation is a separate step:
/// [`crate::validate()`].
pub fn parse(name: &str, text: &str) -> Result<Parsed, Error> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| Error::Syntax {
        file: name.to_string(),
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    let mut parsed = Parsed::default();
    for doc in &docs {
        read_document(name, text, doc, String::new(), &mut parsed)?;
    }
    Ok(parsed)
}

fn value_error(file: &str, line: usize, path: &str, message: impl Into<String>) -> Error {
    Error::Value {
        file: file.to_string(),
        line,
        path: path.to_string(),
        message: message.into(),
    }
}

fn scalar_string<'a>(node: Option<&'a MarkedYaml<'_>>) -> Option<&'a str> {
    match node.map(|n| &n.data) {
        Some(YamlData::Value(Scalar::String(s))) => Some(s.as_ref()),
        _ => None,
    }
}

fn read_document(
    file: &str,
    text: &str,
    doc: &MarkedYaml<'_>,
    path: String,
    out: &mut Parsed,
) -> Result<(), Error> {
    let line = line_of(doc);
    match &doc.data {
        YamlData::Value(Scalar::Null) | YamlData::BadValue => return Ok(()),
        YamlData::Mapping(_) => {}
        _ => {
            return Err(value_error(
                file,
                line,
                &path,
                "a manifest is a mapping of apiVersion, kind, metadata...",
            ))
        }
    }
    let field = |f: &str| {
        if path.is_empty() {
            f.to_string()
        } else {
            format!("{path}.{f}")
        }
    };
    let kind = scalar_string(get(doc, "kind"))
        .ok_or_else(|| value_error(file, line, &field("kind"), "missing kind (a string)"))?;
    let api_version = scalar_string(get(doc, "apiVersion"));
    if kind == "List" {
        let items = match get(doc, "items").map(|n| &n.data) {
            Some(YamlData::Sequence(items)) => items,
            Some(YamlData::Value(Scalar::Null)) | None => return Ok(()),
            Some(_) => {
                return Err(value_error(
                    file,
                    line,
                    &field("items"),
                    "items of a List is a sequence",
                ))
            }
        };
        for (i, item) in items.iter().enumerate() {
            read_document(file, text, item, format!("{}[{i}]", field("items")), out)?;
        }
        return Ok(());
    }
    let Some((_, expected)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        let name = get(doc, "metadata")
            .and_then(|m| scalar_string(get(m, "name")))
            .unwrap_or("");
        out.warnings.push(Warning {
            file: file.to_string(),
            line,
            message: format!("kind {kind} ({name}) is not supported; skipped"),
        });
        return Ok(());
    };
    let api_version = api_version.ok_or_else(|| {
        value_error(
            file,
            line,
            &field("apiVersion"),
            "missing apiVersion (a string)",
        )
    })?;
    if api_version != *expected {
        let l = get(doc, "apiVersion").map_or(line, line_of);
        return Err(value_error(
            file,
            l,
            &field("apiVersion"),
            format!("a {kind} is in apiVersion {expected}, not {api_version}"),
        ));
    }
    let cx = Context::new(file, text);
    let resource = match kind {
        "Pod" => Resource::Pod(typed(doc, &path, &cx)?),
        "Deployment" => Resource::Deployment(typed(doc, &path, &cx)?),
        "ReplicaSet" => Resource::ReplicaSet(typed(doc, &path, &cx)?),
        "DaemonSet" => Resource::DaemonSet(typed(doc, &path, &cx)?),
        "Job" => Resource::Job(typed(doc, &path, &cx)?),
        "ConfigMap" => Resource::ConfigMap(typed(doc, &path, &cx)?),
        "Secret" => Resource::Secret(typed(doc, &path, &cx)?),
        "PersistentVolumeClaim" => Resource::PersistentVolumeClaim(typed(doc, &path, &cx)?),
        _ => Resource::Service(typed(doc, &path, &cx)?),
    };
    // Unknown keys of a mapping are seen before its values are read: order them as written.
    let mut warnings = cx.warnings.into_inner();
    warnings.sort_by_key(|w| w.line);
    out.warnings.extend(warnings);
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    };
    let lines = cx
        .lines
        .into_inner()
        .into_iter()
        .map(|(p, l)| (p.strip_prefix(&prefix).unwrap_or(&p).to_string(), l))
        .collect();
    out.objects.push(Object {
        file: file.to_string(),
        line,
        resource,
        lines,
    });
    Ok(())
}

fn typed<T: DeserializeOwned>(
    doc: &MarkedYaml<'_>,
    path: &str,
    cx: &Context<'_>,
) -> Result<T, Error> {
    T::deserialize(NodeDeserializer::new(doc, path.to_string(), cx)).map_err(|e: DeError| {
        let (line, path) = e.at.unwrap_or((line_of(doc), path.to_string()));
        value_error(cx.file, line, &path, e.message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      nodeSelector: {disk: ssd}
      affinity: {}
      containers:
      - name: web
        image: busybox
        lifecycle: {}
";

    #[test]
    fn reads_and_warns_with_lines() {
        let p = parse("deploy.yaml", DEPLOY).unwrap();
        assert_eq!(p.objects.len(), 1);
        let Resource::Deployment(d) = &p.objects[0].resource else {
            panic!()
        };
        assert_eq!(d.spec.replicas(), 2);
        let w: Vec<String> = p.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            [
                "deploy.yaml:13: spec.template.spec.nodeSelector has no meaning on a single host; ignored",
                "deploy.yaml:14: spec.template.spec.affinity has no meaning on a single host; ignored",
                "deploy.yaml:18: spec.template.spec.containers[0].lifecycle is not supported; ignored",
            ]
        );
        assert_eq!(
            p.objects[0].line_of("spec.template.spec.containers[0].image"),
            17
        );
        assert_eq!(
            p.objects[0].line_of("spec.template.spec.containers[0].nothing"),
            16
        );
    }

    #[test]
    fn documents_lists_and_unsupported_kinds() {
        let text = "---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\
apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\n---\n\
apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n  bogus: 1\n";
        let p = parse("all.yaml", text).unwrap();
        let ids: Vec<String> = p.objects.iter().map(|o| o.id()).collect();
        assert_eq!(ids, ["ConfigMap/a", "Secret/s"]);
        let w: Vec<String> = p.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            [
                "all.yaml:7: kind Ingress (web) is not supported; skipped",
                "all.yaml:17: items[0].bogus is not supported; ignored"
            ]
        );
        assert_eq!(p.objects[1].line, 14);
    }

    #[test]
    fn exported_manifests_say_what_the_cluster_set() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  uid: 1234\n  resourceVersion: '9'\ndata: {k: v}\nstatus: {}\n";
        let p = parse("get.yaml", text).unwrap();
        let w: Vec<String> = p.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            [
                "get.yaml:5: metadata.uid is set by the cluster; ignored",
                "get.yaml:6: metadata.resourceVersion is set by the cluster; ignored",
                "get.yaml:8: status is set by the cluster; ignored",
            ]
        );
    }

    #[test]
    fn comments_and_empty_files_hold_nothing() {
        for text in ["", "# only a comment\n", "---\n# c\n---\n...\n", "\n\n"] {
            let p = parse("e.yaml", text).unwrap();
            assert!(p.objects.is_empty() && p.warnings.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn errors() {
        let e = parse("bad.yaml", "kind: Pod\nmetadata: {name: a\n").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Syntax { line: 3, .. } | Error::Syntax { line: 2, .. }
            ),
            "{e}"
        );
        assert!(e.to_string().starts_with("bad.yaml:"), "{e}");
        let e = parse("r.yaml", &DEPLOY.replace("replicas: 2", "replicas: two")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.yaml:6: spec.replicas: invalid type: string \"two\", expected i32"
        );
        let e = parse(
            "k.yaml",
            "apiVersion: v1\nkind: Deployment\nmetadata: {name: a}\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "k.yaml:1: apiVersion: a Deployment is in apiVersion apps/v1, not v1"
        );
        let e = parse(
            "p.yaml",
            "apiVersion: v1\nkind: Pod\nspec:\n  restartPolicy: Sometimes\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("p.yaml:4: spec.restartPolicy: unknown variant `Sometimes`"),
            "{e}"
        );
        let e = parse("n.yaml", "metadata: {}\n").unwrap_err();
        assert_eq!(e.to_string(), "n.yaml:1: kind: missing kind (a string)");
    }
}
