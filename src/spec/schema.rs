//! The JSON Schema of the pipeline format, derived from the spec types' doc comments.

use serde_json::Value;

use super::Spec;

/// The JSON Schema (draft 2020-12) of pipeline format v1, as printed by `frontier schema`.
pub fn pipeline_schema() -> Value {
    let mut schema = schemars::schema_for!(Spec).to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            Value::String("https://frontier.dev/schema/pipeline-v1.json".into()),
        );
    }
    schema
}

/// The JSON Schema of an evaluator file (`evaluators/<name>.yaml`).
pub fn evaluator_file_schema() -> Value {
    schemars::schema_for!(super::EvaluatorFile).to_value()
}
