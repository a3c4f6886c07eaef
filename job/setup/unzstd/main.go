// Command unzstd joins the parts of a split zstd file and decompresses them: the GPU host has neither Go
// nor (necessarily) zstd, so job/setup/gpu-bundle.sh builds this as a static binary and ships it with the
// parts of the CUDA provider library. Usage:
//
//	unzstd -o OUT [-sha256 HEX] PART...
//
// The parts are read in the order given (as `split` names them, e.g. lib.zst.00 lib.zst.01). OUT is written
// to a temporary file beside it and renamed only after the data decompressed completely and, with -sha256,
// matched the digest, so a missing or corrupt part never leaves a truncated library behind.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

func main() {
	out := flag.String("o", "", "output file")
	sum := flag.String("sha256", "", "expected sha256 of the output (hex)")
	flag.Parse()
	if err := run(*out, *sum, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "unzstd:", err)
		os.Exit(1)
	}
}

func run(out, wantSum string, parts []string) error {
	if out == "" || len(parts) == 0 {
		return errors.New("usage: unzstd -o OUT [-sha256 HEX] PART...")
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	n, err := Decompress(io.MultiWriter(tmp, h), parts)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); wantSum != "" && got != wantSum {
		return fmt.Errorf("%s: sha256 %s, want %s (a part is missing, out of order or corrupt)", out, got, wantSum)
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "unzstd: %s (%d bytes from %d parts)\n", out, n, len(parts))
	return nil
}

// Decompress writes the decompression of the concatenated parts to w and returns the bytes written.
func Decompress(w io.Writer, parts []string) (int64, error) {
	readers := make([]io.Reader, 0, len(parts))
	for _, p := range parts {
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		readers = append(readers, f)
	}
	// A window of up to 1 GiB accepts files compressed with `zstd --long`.
	dec, err := zstd.NewReader(io.MultiReader(readers...), zstd.WithDecoderMaxWindow(1<<30), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return 0, err
	}
	defer dec.Close()
	n, err := io.Copy(w, dec)
	if err != nil {
		return n, fmt.Errorf("decompressing %v: %w", parts, err)
	}
	return n, nil
}
