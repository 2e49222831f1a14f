"""The tools that build the course (outputs, labs, badges, slides, workshop pages, cards, sweeps); nothing a notebook
imports depends on them."""
