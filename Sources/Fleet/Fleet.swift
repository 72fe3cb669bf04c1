import Broker
