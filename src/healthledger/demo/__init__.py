"""The demo network's stories and the synthetic data they tell them with."""
