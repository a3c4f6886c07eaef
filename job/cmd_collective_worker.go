package main

import (
	"context"

	"jellybean/collective/bench"
)

func init() {
	register("collective-worker", "(internal) one rank process of `jellybean bench collective`", func([]string) error {
		return bench.Worker(context.Background())
	})
}
