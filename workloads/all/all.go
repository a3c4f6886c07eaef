// Package all registers the steps of every embedded workload with the workflow engine: the generic
// transforms and each workload's own. The jellybean program imports it for its side effects.
package all

import (
	_ "jellybean/workloads/transforms" // generic steps: image, audio, text, CTC, labels
)
