// Package flow is the runtime half of a workflow file (package plan/workflow holds the format and its
// structural checks): the items that travel between ranks, the registry of steps (transforms and model
// execution) that a workflow node runs on them, and the building of a node's step chain with every check
// that can be made before data flows (parameters, files, tensor names, dtypes and ranks, model bindings).
//
// The runner (job/pipeline) sees only node names, step names and opaque parameters: what a step means is
// the business of the Go type registered under its name, which validates its own parameters, the way a
// cluster scheduler hands a task driver an opaque config and lets the driver check it.
package flow
