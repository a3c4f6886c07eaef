package main

import (
	"errors"
	"flag"
	"fmt"

	"jellybean/job/tiers"
)

func init() {
	register("tiers", "emulate edge/cloud tiers on this machine: tiers up|down (root; network namespaces, tc, sshd)", cmdTiers)
}

func cmdTiers(args []string) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return errors.New("usage: jellybean tiers up (--spec FILE | --preset edge-cloud) --out DIR | jellybean tiers down --out DIR")
	}
	fs := flag.NewFlagSet("tiers "+args[0], flag.ContinueOnError)
	out := fs.String("out", "", "directory for the hostfile, infrastructure.toml, ssh keys and state")
	specFile := fs.String("spec", "", "TOML spec of the tiers (up)")
	preset := fs.String("preset", "", "built-in spec: edge-cloud (up)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("tiers: --out DIR is required")
	}
	if args[0] == "down" {
		st, err := tiers.LoadState(*out)
		if err != nil {
			return err
		}
		return tiers.Down(st)
	}
	var spec tiers.Spec
	var err error
	switch {
	case *specFile != "" && *preset != "":
		return errors.New("tiers up: give --spec or --preset, not both")
	case *specFile != "":
		spec, err = tiers.LoadSpec(*specFile)
	case *preset != "":
		spec, err = tiers.Preset(*preset)
	default:
		return errors.New("tiers up: --spec FILE or --preset edge-cloud is required")
	}
	if err != nil {
		return err
	}
	st, err := tiers.Up(spec, *out)
	if err != nil {
		return err
	}
	fmt.Printf("tiers up: %d hosts (%s); hostfile %s/hostfile, infrastructure %s/infrastructure.toml, ssh settings: source %s/ssh.env\n",
		len(st.Namespaces), st.Shaping, st.Dir, st.Dir, st.Dir)
	return nil
}
