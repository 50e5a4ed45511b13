"""Minimal GAN trainers for CIFAR-10 (DCGAN, CGAN, ACGAN, BigGAN, WGAN-GP).

One file per model (a `Config` dataclass, `Generator`, `Discriminator`, `step()`), one shared loop
(`trainers.loop`), and two click commands (`trainers.cli`). Trainers never import `ganbench.metrics`: a run
folder (`runs/<id>/samples/<step>/<class>/*.png`, `ckpt-*.pt`) is the only link to scoring. The one exception,
`--score-every` (`trainers.scoring_hook`), imports `ganbench.scoring` lazily and scores that same folder.
"""
