"""The course's method on your own documents (``python -m ftrag.yourdocs``): read a folder (``corpus``), check gold
questions (``questions``), measure retrieval, answers and costs (``measure``), and write a report whose verdicts
apply the decision guide's rules to those numbers (``report``). ``sample`` is the corpus that ships."""
