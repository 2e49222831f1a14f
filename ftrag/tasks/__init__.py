"""Each lesson's task: kinds of text (01), JSON output (02), the memo dialect (03), multiple choice and knowledge
injection (05)."""
