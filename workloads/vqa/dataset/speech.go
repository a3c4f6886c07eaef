package dataset

import (
	"bytes"
	"fmt"
	"jellybean/workloads/transforms"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"

	"jellybean/workloads/vqa"
)

// Voice is one espeak-ng speaker setting.
type Voice struct {
	Name  string // espeak-ng -v argument, accent+variant
	Speed int    // words per minute
	Pitch int    // 0..99
}

// Accents and voice variants of espeak-ng. The test and validation splits speak only with held-out
// variants, so measured recognition accuracy is for voices the recognisers never heard.
var (
	accents = []string{"en-gb", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbcwmd",
		"en-gb-x-gbclan", "en-us-nyc"}
	trainVariants   = []string{"m1", "m2", "m3", "m4", "m6", "f1", "f2", "f4", "klatt", "klatt3"}
	heldOutVariants = []string{"m5", "m7", "f3", "f5"}
)

// RandomVoice draws a voice; heldOut selects the variants reserved for evaluation splits.
func RandomVoice(rng *rand.Rand, heldOut bool) Voice {
	variants := trainVariants
	if heldOut {
		variants = heldOutVariants
	}
	return Voice{
		Name:  accents[rng.IntN(len(accents))] + "+" + variants[rng.IntN(len(variants))],
		Speed: 130 + rng.IntN(61),
		Pitch: 30 + rng.IntN(41),
	}
}

// Speak synthesises text with espeak-ng (22050 Hz), resamples it to 16 kHz mono with sox, and adds a
// little background noise and gain drawn from rng. It returns the WAV file bytes.
func Speak(text string, v Voice, rng *rand.Rand) ([]byte, error) {
	var raw, errb bytes.Buffer
	es := exec.Command("espeak-ng", "-v", v.Name, "-s", strconv.Itoa(v.Speed), "-p", strconv.Itoa(v.Pitch), "--stdout", text)
	es.Stdout, es.Stderr = &raw, &errb
	if err := es.Run(); err != nil {
		return nil, fmt.Errorf("espeak-ng -v %s %q: %v: %s", v.Name, text, err, errb.String())
	}
	var out bytes.Buffer
	errb.Reset()
	// -R: sox dithers when it requantises to 16 bits, with a random seed unless told to be repeatable;
	// without it the same seed would give different WAV bytes on every run.
	sx := exec.Command("sox", "-R", "-t", "wav", "-", "-t", "wav", "-r", strconv.Itoa(vqa.SampleRate), "-c", "1", "-b", "16", "-")
	sx.Stdin, sx.Stdout, sx.Stderr = &raw, &out, &errb
	if err := sx.Run(); err != nil {
		return nil, fmt.Errorf("sox (resampling %q): %v: %s", text, err, errb.String())
	}
	samples, err := transforms.DecodeWAV(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("sox output for %q: %v", text, err)
	}
	gain := 0.5 + rng.Float64()*0.6
	noise := 0.001 + rng.Float64()*0.008
	for i := range samples {
		samples[i] = samples[i]*float32(gain) + float32(rng.NormFloat64()*noise)
	}
	return transforms.EncodeWAV16(samples, vqa.SampleRate), nil
}

// EnsureTools checks that espeak-ng and sox are installed. As root it installs them with apt-get;
// otherwise the error names the one command to run.
func EnsureTools() error {
	missing := func() bool {
		_, e1 := exec.LookPath("espeak-ng")
		_, e2 := exec.LookPath("sox")
		return e1 != nil || e2 != nil
	}
	if !missing() {
		return nil
	}
	const install = "apt-get install -y espeak-ng sox"
	if os.Geteuid() != 0 {
		return fmt.Errorf("espeak-ng and sox are needed to synthesise spoken questions; run: sudo %s", install)
	}
	fmt.Fprintln(os.Stderr, "gen-data: installing espeak-ng and sox with apt-get")
	for _, args := range [][]string{{"update"}, {"install", "-y", "espeak-ng", "sox"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %v: %v (run: %s)", args, err, install)
		}
	}
	if missing() {
		return fmt.Errorf("espeak-ng or sox still missing after %s", install)
	}
	return nil
}
