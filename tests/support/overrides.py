"""Config overrides the tests train with."""

# Small enough to train a step in well under a second on 2 cores, same code paths as cpu-tiny.
FAST_OVERRIDES = [
    "model.embedding_dim=32", "model.encoder_dim=32", "model.prenet_dims=[32,32]",
    "model.attention_rnn_dim=64", "model.decoder_rnn_dim=64", "model.attention_dim=16",
    "model.location_filters=4", "model.postnet_channels=32", "train.batch_size=4",
    "train.val_every_steps=4", "train.checkpoint_every_steps=4", "train.log_every_steps=2",
    "train.num_threads=1", "data.val_size=3",
]
