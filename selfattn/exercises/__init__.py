"""Solutions to the exercises at the end of each chapter, one module per chapter.

Each solution is embedded on its chapter's page (inside a collapsed "Solution" block)
and tested in `tests/test_exercises_<part or chapter>.py`. They are not part of
`selfattn.__all__`: import them as `from selfattn.exercises.step_by_step import
context_vector_of`.
"""
