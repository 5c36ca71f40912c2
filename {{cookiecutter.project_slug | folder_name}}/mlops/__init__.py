"""Operations CLI of this project: validate specs, apply assets, train, register, deploy, invoke."""
