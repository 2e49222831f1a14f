"""Each lesson's task: JSON output (02), the memo dialect (03), multiple choice and knowledge injection (05)."""
