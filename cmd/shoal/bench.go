package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBenchCmd() *cobra.Command {
	return &cobra.Command{Use: "bench", Short: "Benchmark Shoal against plain Bleve", RunE: func(*cobra.Command, []string) error {
		return errors.New("bench: under construction")
	}}
}
