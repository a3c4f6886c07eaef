package launch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"jellybean/job/runid"
	"jellybean/plan"
)

// More names in a run directory (see README.md, "The run directory").
const (
	TimingDir   = "timing"
	AttemptsDir = "attempts" // attempts/<n>/: what attempt n left (summary.json, timing/, inputs.json)
)

// countResults checks the lines of results.jsonl (name is for messages) against the job's items and
// returns how many of them are done. A trailing partial line (a write a kill interrupted) is not
// counted; the sink truncates it when it resumes. A malformed line, an id that is not one of the job's
// items, or an id written twice is an error naming the line: resuming such a file could only mix results
// of different jobs.
func countResults(name string, data []byte, job map[int64]bool) (int, error) {
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	seen := map[int64]int{}
	for line := 1; len(data) > 0; line++ {
		i := bytes.IndexByte(data, '\n')
		var r struct {
			ID *int64 `json:"id"`
		}
		if err := json.Unmarshal(data[:i], &r); err != nil {
			return 0, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		if r.ID == nil {
			return 0, fmt.Errorf("%s:%d: no \"id\"", name, line)
		}
		id := *r.ID
		if !job[id] {
			return 0, fmt.Errorf("%s:%d: item %d is not one of the job's %d items", name, line, id, len(job))
		}
		if first, dup := seen[id]; dup {
			return 0, fmt.Errorf("%s:%d: item %d appears twice (first on line %d)", name, line, id, first)
		}
		seen[id] = line
		data = data[i+1:]
	}
	return len(seen), nil
}

// resultsDone reads dir/results.jsonl (missing: nothing done) and counts the job's items in it.
func resultsDone(dir string, items []int64) (int, error) {
	path := filepath.Join(dir, ResultsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	job := make(map[int64]bool, len(items))
	for _, id := range items {
		job[id] = true
	}
	return countResults(path, data, job)
}

// finished reports whether the run needs no more work: every item has a result and the last attempt
// wrote its summary (a run killed after its last result but before its summary is resumed, so that the
// summary gets written).
func finished(dir string, done, total int) bool {
	if done < total {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, SummaryFile))
	return err == nil
}

// archiveAttempt moves what the previous attempt of a run left (summary.json, timing/) into
// attempts/<n>/, n = 1, 2, ..., and copies the fingerprint it ran with beside them, so that a resume
// truncates nothing. It returns n, or 0 when the previous attempt left nothing to keep.
func archiveAttempt(dir string) (int, error) {
	var keep []string
	for _, name := range []string{SummaryFile, TimingDir} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			keep = append(keep, name)
		}
	}
	if len(keep) == 0 {
		return 0, nil
	}
	n := 1
	entries, err := os.ReadDir(filepath.Join(dir, AttemptsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	for _, e := range entries {
		if k, err := strconv.Atoi(e.Name()); err == nil && k >= n {
			n = k + 1
		}
	}
	dst := filepath.Join(dir, AttemptsDir, strconv.Itoa(n))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return 0, fmt.Errorf("keeping the previous attempt: %w", err)
	}
	for _, name := range keep {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(dst, name)); err != nil {
			return 0, fmt.Errorf("keeping the previous attempt: %w", err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, runid.InputsFile)); err == nil {
		if err := os.WriteFile(filepath.Join(dst, runid.InputsFile), data, 0o644); err != nil {
			return 0, fmt.Errorf("keeping the previous attempt: %w", err)
		}
	}
	return n, nil
}

// checkInputs fingerprints the run's inputs. A new run records them (inputs.json). A resumed run must
// have the inputs it started with: any change is refused in one message naming each changed file with
// its old and new hash, unless cfg.ResumeForce, which goes ahead saying loudly what it mixes and records
// that in inputs.json. A resumed run that is already complete is reported and left untouched
// (complete = true). Otherwise the previous attempt's summary and timing move to attempts/<n>/.
func checkInputs(cfg Config, id, dir string) (complete bool, err error) {
	planPath := filepath.Join(dir, PlanFile)
	p, err := plan.Load(planPath)
	if err != nil {
		return false, err
	}
	planBytes, err := p.Encode() // the parsed plan: comments and layout are not part of the run
	if err != nil {
		return false, err
	}
	files, items, err := runInputs(p, cfg.Root)
	if cfg.SSH.RemoteRoot != "" {
		// The ranks' files live under another root on the remote hosts; only those also present here
		// can be fingerprinted, and the results are counted where the sink writes them, not here.
		if err != nil {
			fmt.Fprintf(cfg.Err, "jellybean launch: note: with a remote root, the dataset is not fingerprinted (%v)\n", err)
			files = map[string]string{}
		}
		for role, path := range files {
			if _, err := os.Stat(path); err != nil {
				delete(files, role)
			}
		}
		items = nil
	} else if err != nil {
		return false, fmt.Errorf("plan %s: %w", planPath, err)
	}
	files[HostfileFile] = filepath.Join(dir, HostfileFile)
	if st, err := os.Stat(cfg.Binary); err == nil && st.Mode().IsRegular() {
		files["binary"] = cfg.Binary // (a missing program is the ranks' start failure to report)
	}
	now, err := runid.Compute(cfg.Version, rankPath(cfg.Root, planPath), planBytes, files)
	if err != nil {
		return false, err
	}
	for i := range now.Files { // messages name files as the user sees them from the root
		now.Files[i].Path = rankPath(cfg.Root, now.Files[i].Path)
	}
	if cfg.Resume == "" {
		return false, runid.Write(dir, now)
	}

	recorded, err := runid.Read(dir)
	switch {
	case errors.Is(err, runid.ErrNoFingerprint):
		fmt.Fprintf(cfg.Err, "jellybean launch: warning: run %s has no %s (it started before runs were fingerprinted): "+
			"its earlier results cannot be checked against the current inputs, which are recorded now\n", id, runid.InputsFile)
	case err != nil:
		return false, fmt.Errorf("--resume %s: %w", id, err)
	default:
		if changes := runid.Diff(recorded, now); len(changes) > 0 {
			what := runid.Describe(changes, 5)
			if !cfg.ResumeForce {
				return false, fmt.Errorf("--resume %s: refused: %d input(s) changed since the run started: %s "+
					"(start a new run, or pass --resume-force to mix results of both)", id, len(changes), what)
			}
			fmt.Fprintf(cfg.Err, "jellybean launch: WARNING: --resume-force: run %s will MIX results computed from "+
				"different inputs; changed since it started: %s\n", id, what)
			var notes []string
			for _, c := range changes {
				notes = append(notes, c.String())
			}
			now.Forced = append(recorded.Forced, runid.Force{At: time.Now().UTC().Format(time.RFC3339), Changes: notes})
		} else {
			now.Forced = recorded.Forced
		}
	}

	done, err := 0, error(nil)
	if items != nil {
		done, err = resultsDone(dir, items)
	}
	if err != nil {
		return false, fmt.Errorf("--resume %s: %w", id, err)
	}
	if items != nil && finished(dir, done, len(items)) {
		fmt.Fprintf(cfg.Err, "jellybean launch: run %s is already complete (%d/%d items in %s); nothing to do\n",
			id, done, len(items), ResultsFile)
		return true, nil
	}
	n, err := archiveAttempt(dir)
	if err != nil {
		return false, err
	}
	if n > 0 {
		count := ""
		if items != nil {
			count = fmt.Sprintf(": %d/%d items done", done, len(items))
		}
		fmt.Fprintf(cfg.Err, "jellybean launch: resuming run %s%s; attempt %d's summary and timing kept in %s\n",
			id, count, n, rankPath(cfg.Root, filepath.Join(dir, AttemptsDir, strconv.Itoa(n))))
	}
	return false, runid.Write(dir, now)
}

// countLines counts the complete lines of a file (0 when it cannot be read).
func countLines(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(data, []byte{'\n'})
}
