"""The yearly assessment (考核): schemes, runs, scores, appeals."""
