"""Selection of real samples: ``selectors`` (herding, k-center, greedy MMD, random) and
``doping`` (a FiftyOne run that mixes selected real samples into a synthesis run).
"""
