import Evy
