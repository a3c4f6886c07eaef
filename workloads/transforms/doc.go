// Package transforms holds the generic steps that workflow files use by name: loading images, audio and
// text from a dataset's files, tokenising with a vocabulary file, CTC greedy decoding with a charset
// file, and turning class scores into labels. Each is a small type registered with job/flow, validating
// its own parameters. Workloads register their own, more specific steps from their own packages.
//
// Import the package for its registrations: import _ "jellybean/workloads/transforms".
package transforms
